"""MovieLens 100k: u.data (tab-separated ratings) and u.item (pipe-separated, Latin-1)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import pyarrow as pa

from ingest.lake.movielens import catalog_table, parse_year
from ingest.lake.sources.spec import FileSpec, SourcePlan

ENCODING = "latin-1"
# The order of u.item's 19 genre flags (u.genre).
GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_RELEASE_YEAR = re.compile(r"(\d{4})\s*$")


def is_movielens_100k(source: Path) -> bool:
    return source.is_dir() and (source / "u.data").is_file()


def plan_movielens_100k(source: Path) -> SourcePlan:
    """u.data becomes rating events and u.item the catalog; u.user is named in the notes."""
    ratings = FileSpec(
        path=source / "u.data",
        format="delimited",
        delimiter="\t",
        quoted=False,
        encoding=ENCODING,
        header=False,
        columns=("user", "item", "rating", "ts"),
        mapping={"user": "user", "item": "item", "value": "rating", "ts": "ts"},
        event_type="rating",
    )
    notes = ["u.user is not ingested (no user table)"] if (source / "u.user").is_file() else []
    items = source / "u.item"
    return SourcePlan(
        kind="movielens-100k",
        files=[ratings],
        read_items=partial(read_100k_items, items) if items.is_file() else None,
        notes=notes,
    )


def _year(title: str, release_date: str) -> int | None:
    """The year in the title, else the one ending the release date ('01-Jan-1995')."""
    year = parse_year(title)
    if year is None and (match := _RELEASE_YEAR.search(release_date)):
        year = int(match.group(1))
    return year


def read_100k_items(path: Path) -> pa.Table:
    """u.item: id|title|release date|video date|IMDb URL|19 genre flags."""
    ids, titles, genres, years = [], [], [], []
    for line in path.read_text(encoding=ENCODING).splitlines():
        fields = line.split("|")
        if len(fields) != 5 + len(GENRES) or not fields[0].isdigit():
            continue
        ids.append(int(fields[0]))
        titles.append(fields[1])
        genres.append([g for g, flag in zip(GENRES, fields[5:], strict=True) if flag == "1"])
        years.append(_year(fields[1], fields[2]))
    return catalog_table(ids, titles, genres, years)
