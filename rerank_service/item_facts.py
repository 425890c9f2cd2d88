"""What the rerank policies know about items: genres, release year, popularity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.filesystem import StoragePath
from core.online_catalog import ItemEntry
from core.storage import parquet_dataset


@dataclass(frozen=True)
class ItemFacts:
    """Per-item facts, with popularity scaled to [0, 1] by log rating count and trending (the
    time-decayed rating count the features job publishes) scaled to [0, 1] by its maximum."""

    genres: dict[int, list[str]]
    year: dict[int, int]
    popularity: dict[int, float]
    newest_year: int
    trending: dict[int, float] = field(default_factory=dict)

    @staticmethod
    def load(item_features: StoragePath) -> ItemFacts:
        table = parquet_dataset(item_features, exclude_invalid_files=True).to_table(
            columns=[
                "item_id",
                "item_genres",
                "release_year",
                "item_rating_count",
                "item_popularity",
            ]
        )
        ids = table["item_id"].to_pylist()
        years = table["release_year"].to_pylist()
        counts = table["item_rating_count"].to_pylist()
        top = max((math.log1p(c or 0) for c in counts), default=0.0) or 1.0
        decayed = [p or 0.0 for p in table["item_popularity"].to_pylist()]
        hottest = max(decayed, default=0.0) or 1.0
        known_years = [y for y in years if y]
        return ItemFacts(
            genres=dict(zip(ids, (g or [] for g in table["item_genres"].to_pylist()), strict=True)),
            year={i: y for i, y in zip(ids, years, strict=True) if y},
            popularity={i: math.log1p(c or 0) / top for i, c in zip(ids, counts, strict=True)},
            newest_year=max(known_years, default=0),
            trending={i: p / hottest for i, p in zip(ids, decayed, strict=True)},
        )

    def add_entries(self, changed: dict[int, ItemEntry]) -> None:
        """Take the genres and year of entries put online (a CatalogFollower's `apply`), so
        that diversity and freshness see a new item before the next features build. Popularity
        stays what the features build counted (none for a new item)."""
        for item_id, entry in changed.items():
            self.genres[item_id] = list(entry.genres)
            if entry.year:
                self.year[item_id] = entry.year
            else:
                self.year.pop(item_id, None)
