"""MovieLens CSV releases (ml-latest-small, ml-latest, ml-20m, ml-25m)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ingest.lake.movielens import catalog_table, parse_year, split_genres
from ingest.lake.sources.spec import FileSpec, SourcePlan

MARKERS = ("ratings.csv", "movies.csv")


def is_movielens_csv(source: Path) -> bool:
    return source.is_dir() and all((source / name).is_file() for name in MARKERS)


def plan_movielens_csv(source: Path) -> SourcePlan:
    """Ratings and tags become events; movies (with links when present) the catalog."""
    user, item, ts = "userId", "movieId", "timestamp"
    files = [
        FileSpec(
            path=source / "ratings.csv",
            format="delimited",
            mapping={"user": user, "item": item, "value": "rating", "ts": ts},
            event_type="rating",
        )
    ]
    if (source / "tags.csv").is_file():
        files.append(
            FileSpec(
                path=source / "tags.csv",
                format="delimited",
                mapping={"user": user, "item": item, "tag": "tag", "ts": ts},
                event_type="tag",
            )
        )
    return SourcePlan(kind="movielens-csv", files=files, read_items=partial(read_csv_items, source))


def read_csv_items(source: Path) -> pa.Table:
    """The catalog from movies.csv, with imdb/tmdb ids from links.csv when present."""
    movies = pd.read_csv(source / "movies.csv", dtype=str, keep_default_na=False)
    links_path = source / "links.csv"
    if links_path.is_file():
        links = pd.read_csv(links_path, dtype=str, keep_default_na=False)
        movies = movies.merge(links, on="movieId", how="left").fillna("")
    else:
        movies["imdbId"] = None
        movies["tmdbId"] = None
    movies = movies[movies["movieId"].str.fullmatch(r"\d+")]
    return catalog_table(
        ids=movies["movieId"].astype("int64").tolist(),
        titles=movies["title"].tolist(),
        genres=[split_genres(g) for g in movies["genres"]],
        years=[parse_year(t) for t in movies["title"]],
        imdb=[v or None for v in movies["imdbId"]],
        tmdb=[v or None for v in movies["tmdbId"]],
    )
