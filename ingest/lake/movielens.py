"""What every MovieLens release shares: years in titles, genre lists and the catalog table."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa

from core.tables import ITEMS

_YEAR = re.compile(r"\((\d{4})[^)]*\)\s*$")
NO_GENRES = "(no genres listed)"
RATING_RANGE = (0.5, 5.0)


def parse_year(title: str) -> int | None:
    """The release year that MovieLens puts at the end of a title, e.g. 'Heat (1995)'."""
    match = _YEAR.search(title.strip())
    return int(match.group(1)) if match else None


def split_genres(genres: str) -> list[str]:
    """'Action|Crime' -> ['Action', 'Crime']; the 'no genres' marker is an empty list."""
    return [] if genres in ("", NO_GENRES) else genres.split("|")


def catalog_table(
    ids: Sequence[int],
    titles: Sequence[str],
    genres: Sequence[list[str]],
    years: Sequence[int | None],
    imdb: Sequence[str | None] | None = None,
    tmdb: Sequence[str | None] | None = None,
) -> pa.Table:
    """The ITEMS table from parallel columns; missing link columns become nulls."""
    empty = [None] * len(ids)
    return pa.table(
        {
            "item_id": pa.array(ids, type=pa.int64()),
            "title": pa.array(titles, type=pa.string()),
            "genres": pa.array(genres, type=pa.list_(pa.string())),
            "year": pa.array(years, type=pa.int32()),
            "imdb_id": pa.array(imdb if imdb is not None else empty, type=pa.string()),
            "tmdb_id": pa.array(tmdb if tmdb is not None else empty, type=pa.string()),
        },
        schema=ITEMS,
    )
