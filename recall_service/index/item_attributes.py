"""Scalar fields stored beside each item vector (genres, year, popularity), and filters on them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from core.filesystem import StoragePath
from core.storage import committed, parquet_dataset

# Milvus array fields have a fixed capacity; MovieLens items carry at most 10 genres.
MAX_GENRES = 32
MAX_GENRE_LENGTH = 64
MAX_GENRE_TAGS_LENGTH = 4096
# Milvus scalar fields are not nullable here: an unknown year is stored as 0, so that any
# `min_year` filter leaves such items out.
UNKNOWN_YEAR = 0

ATTRIBUTES_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("genres", pa.list_(pa.string())),
        pa.field("year", pa.int64()),
        pa.field("popularity", pa.float32()),
    ]
)


class ItemFilter(BaseModel):
    """Conditions a searched item must meet: a genre it has, a release year it reaches, and not
    being one of the `exclude` ids (a user's seen items)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    genre: str | None = None
    min_year: int | None = None
    exclude: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.uses_attributes and not self.exclude

    @property
    def uses_attributes(self) -> bool:
        """Whether it reads the scalar fields that only newer collections hold."""
        return self.genre is not None or self.min_year is not None

    def excluding(self, ids: Iterable[int]) -> ItemFilter:
        """This filter that also leaves `ids` out."""
        return self.model_copy(update={"exclude": self.exclude | frozenset(int(i) for i in ids)})

    def expression(self, lite: bool = True) -> str:
        """The Milvus boolean expression for Milvus Lite (`lite`) or a Milvus server; "" when
        the filter lets everything through."""
        parts = []
        if self.genre is not None and lite:
            # Milvus Lite evaluates array_contains row by row in Python (0.5 s for 10k items)
            # but LIKE as one Arrow kernel, so genres are matched in their tag string.
            parts.append(f'genre_tags like "%{genre_tag(self.genre)}%"')
        elif self.genre is not None:
            # A server (2.3) takes only prefix LIKE patterns; it indexes arrays natively. The
            # JSON string literal escapes quotes and backslashes as Milvus's parser reads them.
            parts.append(f"array_contains(genres, {json.dumps(self.genre)})")
        if self.min_year is not None:
            parts.append(f"year >= {int(self.min_year)}")
        if self.exclude:
            # Leaving seen items out inside the search costs Milvus Lite far less than asking
            # for that many more hits: it materialises every field of every hit in Python.
            parts.append(f"item_id not in [{', '.join(str(i) for i in sorted(self.exclude))}]")
        return " and ".join(parts)


def genre_tag(genre: str) -> str:
    """`genre` as it appears in a tag string: "|Sci-Fi|". Characters other than ASCII letters,
    digits and "-" are spelled as "~hex;", so no genre can hold a LIKE wildcard, a quote or
    the separator, and a genre from a query string cannot change the expression."""
    safe = "".join(
        c if (c.isascii() and c.isalnum()) or c == "-" else f"~{ord(c):x};" for c in genre
    )
    return f"|{safe}|"


def genre_tags(genres: list[str]) -> str:
    """All of an item's genres in one string that a LIKE pattern can search."""
    return "".join(genre_tag(genre) for genre in genres)[:MAX_GENRE_TAGS_LENGTH]


@dataclass(frozen=True)
class ItemAttributes:
    """Per-item scalar fields, aligned with the index's ids: row i describes `ids[i]`."""

    ids: np.ndarray
    genres: list[list[str]]
    years: np.ndarray
    popularity: np.ndarray

    @classmethod
    def unknown(cls, ids: np.ndarray) -> ItemAttributes:
        """No genres, unknown years, zero popularity: what items without features get."""
        n = len(ids)
        return cls(
            np.asarray(ids, dtype=np.int64),
            [[] for _ in range(n)],
            np.full(n, UNKNOWN_YEAR, dtype=np.int64),
            np.zeros(n, dtype=np.float32),
        )

    @classmethod
    def from_item_features(cls, folder: StoragePath, ids: np.ndarray) -> ItemAttributes:
        """From the ITEM_FEATURES table (item_genres, release_year, item_popularity), for `ids`
        in their order; items the table lacks (or a missing table) get unknown attributes."""
        attributes = cls.unknown(ids)
        if not committed(folder).is_dir():
            return attributes
        table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
            columns=["item_id", "item_genres", "release_year", "item_popularity"]
        )
        rows = {int(item): row for row, item in enumerate(attributes.ids)}
        for item, genres, year, popularity in zip(
            table["item_id"].to_pylist(),
            table["item_genres"].to_pylist(),
            table["release_year"].to_pylist(),
            table["item_popularity"].to_pylist(),
            strict=True,
        ):
            row = rows.get(int(item))
            if row is None:
                continue
            attributes.genres[row] = list(genres or [])[:MAX_GENRES]
            attributes.years[row] = UNKNOWN_YEAR if year is None else int(year)
            attributes.popularity[row] = popularity or 0.0
        return attributes

    def save(self, path: Path) -> None:
        pq.write_table(
            pa.table(
                {
                    "item_id": self.ids,
                    "genres": self.genres,
                    "year": self.years,
                    "popularity": self.popularity,
                },
                schema=ATTRIBUTES_SCHEMA,
            ),
            path,
        )

    @classmethod
    def load(cls, path: Path) -> ItemAttributes:
        table = pq.read_table(path)
        return cls(
            table["item_id"].to_numpy().astype(np.int64),
            [list(g or []) for g in table["genres"].to_pylist()],
            table["year"].to_numpy().astype(np.int64),
            table["popularity"].to_numpy().astype(np.float32),
        )

    def rows(self, positions: Sequence[int]) -> list[dict[str, object]]:
        """The Milvus scalar fields of the items at `positions`."""
        return [
            {
                "genres": self.genres[p],
                "genre_tags": genre_tags(self.genres[p]),
                "year": int(self.years[p]),
                "popularity": float(self.popularity[p]),
            }
            for p in positions
        ]

    def mask(self, where: ItemFilter) -> np.ndarray:
        """(V,) bool: which items pass `where`."""
        keep = np.ones(len(self.ids), dtype=bool)
        if where.genre is not None:
            keep &= np.array([where.genre in genres for genres in self.genres], dtype=bool)
        if where.min_year is not None:
            keep &= self.years >= where.min_year
        if where.exclude:
            keep &= ~np.isin(self.ids, np.fromiter(where.exclude, dtype=np.int64))
        return keep
