"""MovieLens `::`-separated releases (ml-1m, ml-10m)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pyarrow as pa

from ingest.lake.movielens import catalog_table, parse_year, split_genres
from ingest.lake.sources.spec import FileSpec, SourcePlan

# ml-1m is Latin-1; Latin-1 decodes every byte, and ml-10m's titles are ASCII.
ENCODING = "latin-1"


def is_movielens_dat(source: Path) -> bool:
    return source.is_dir() and (source / "ratings.dat").is_file()


def _dat(path: Path, columns: tuple[str, ...], mapping: dict[str, str], kind: str) -> FileSpec:
    return FileSpec(
        path=path,
        format="delimited",
        delimiter="::",
        quoted=False,
        encoding=ENCODING,
        header=False,
        columns=columns,
        mapping=mapping,
        event_type=kind,
    )


def plan_movielens_dat(source: Path) -> SourcePlan:
    """ratings.dat (and tags.dat of ml-10m) become events, movies.dat the catalog.

    users.dat (ml-1m demographics) has no table in the lake yet, so it is named in the notes.
    """
    base = {"user": "user", "item": "item", "ts": "ts"}
    files = [
        _dat(
            source / "ratings.dat",
            ("user", "item", "rating", "ts"),
            {**base, "value": "rating"},
            "rating",
        )
    ]
    if (source / "tags.dat").is_file():
        files.append(
            _dat(source / "tags.dat", ("user", "item", "tag", "ts"), {**base, "tag": "tag"}, "tag")
        )
    users = (source / "users.dat").is_file()
    notes = ["users.dat is not ingested (no user table)"] if users else []
    movies = source / "movies.dat"
    return SourcePlan(
        kind="movielens-dat",
        files=files,
        read_items=partial(read_dat_items, movies) if movies.is_file() else None,
        notes=notes,
    )


def read_dat_items(path: Path) -> pa.Table:
    """movies.dat: `MovieID::Title::Genres`; lines that do not fit are skipped."""
    ids, titles, genres = [], [], []
    for line in path.read_text(encoding=ENCODING).splitlines():
        fields = line.split("::")
        if len(fields) != 3 or not fields[0].isdigit():
            continue
        ids.append(int(fields[0]))
        titles.append(fields[1])
        genres.append(split_genres(fields[2]))
    return catalog_table(ids, titles, genres, [parse_year(t) for t in titles])
