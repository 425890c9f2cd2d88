"""Readers for MovieLens CSV releases (ml-latest-small, ml-latest, ml-20m, ml-25m)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import ray.data

from core.tables import ITEMS
from ingest.validate import RATING_COLUMNS

_YEAR = re.compile(r"\((\d{4})[^)]*\)\s*$")
NO_GENRES = "(no genres listed)"


class SourceError(ValueError):
    """A source that cannot be ingested, with a reason a user can act on."""


def check_movielens_dir(source: Path) -> None:
    """Raise SourceError unless `source` is a MovieLens CSV directory."""
    if not source.is_dir():
        raise SourceError(f"{source}: not a directory")
    missing = [name for name in ("ratings.csv", "movies.csv") if not (source / name).is_file()]
    if missing:
        raise SourceError(f"{source}: not a MovieLens CSV directory (missing {', '.join(missing)})")


def read_ratings(path: Path) -> ray.data.Dataset:
    """Ratings as strings, so that one bad value cannot abort the read or retype a column."""
    header = path.open(encoding="utf-8").readline().strip().split(",")
    missing = [c for c in RATING_COLUMNS if c not in header]
    if missing:
        raise SourceError(f"{path}: missing columns {', '.join(missing)}")
    return ray.data.read_csv(
        str(path),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
    )


def parse_year(title: str) -> int | None:
    """The release year that MovieLens puts at the end of a title, e.g. 'Heat (1995)'."""
    match = _YEAR.search(title.strip())
    return int(match.group(1)) if match else None


def read_items(source: Path) -> pa.Table:
    """The catalog from movies.csv, with imdb/tmdb ids from links.csv when present."""
    movies = pd.read_csv(source / "movies.csv", dtype=str, keep_default_na=False)
    links_path = source / "links.csv"
    if links_path.is_file():
        links = pd.read_csv(links_path, dtype=str, keep_default_na=False)
        movies = movies.merge(links, on="movieId", how="left")
    else:
        movies["imdbId"] = None
        movies["tmdbId"] = None
    movies = movies[movies["movieId"].str.fullmatch(r"\d+")]
    genres = [[] if g in ("", NO_GENRES) else g.split("|") for g in movies["genres"]]
    years = [parse_year(t) for t in movies["title"]]
    return pa.table(
        {
            "item_id": pa.array(movies["movieId"].astype("int64")),
            "title": pa.array(movies["title"]),
            "genres": pa.array(genres, type=pa.list_(pa.string())),
            "year": pa.array(years, type=pa.int32()),
            "imdb_id": pa.array(movies["imdbId"].replace("", None), type=pa.string()),
            "tmdb_id": pa.array(movies["tmdbId"].replace("", None), type=pa.string()),
        },
        schema=ITEMS,
    )
