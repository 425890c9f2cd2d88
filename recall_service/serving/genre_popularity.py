"""Popular items per genre, and the genre-affinity route that reads them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from core.filesystem import StoragePath
from core.storage import committed, parquet_dataset


@dataclass(frozen=True)
class GenrePopularity:
    """For every genre, its items (ids, popularity) sorted most popular first."""

    by_genre: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def build(
        cls, item_ids: Sequence[int], genres: Sequence[Sequence[str]], scores: Sequence[float]
    ) -> GenrePopularity:
        """From parallel columns; items with a score <= 0 are left out."""
        lists: dict[str, list[tuple[int, float]]] = {}
        for item, item_genres, score in zip(item_ids, genres, scores, strict=True):
            if score is None or score <= 0:
                continue
            for genre in item_genres or ():
                lists.setdefault(genre, []).append((int(item), float(score)))
        by_genre = {}
        for genre, pairs in lists.items():
            pairs.sort(key=lambda pair: (-pair[1], pair[0]))
            by_genre[genre] = (
                np.array([item for item, _ in pairs], dtype=np.int64),
                np.array([score for _, score in pairs], dtype=np.float64),
            )
        return cls(by_genre)

    @classmethod
    def from_item_features(cls, folder: StoragePath) -> GenrePopularity:
        """From the ITEM_FEATURES table (item_genres, item_popularity); empty when it is missing."""
        if not committed(folder).is_dir():
            return cls({})
        table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
            columns=["item_id", "item_genres", "item_popularity"],
            filter=pc.field("item_popularity") > 0,
        )
        return cls.build(
            table["item_id"].to_pylist(),
            table["item_genres"].to_pylist(),
            table["item_popularity"].to_pylist(),
        )

    def top(self, genre: str, n: int) -> list[tuple[int, float]]:
        items, scores = self.by_genre.get(genre, (np.empty(0, np.int64), np.empty(0)))
        return list(zip(items[:n].tolist(), scores[:n].tolist(), strict=True))


def genre_route(
    genres: GenrePopularity, top_genres: Sequence[str], k: int, exclude: set[int] | None = None
) -> list[tuple[int, float]]:
    """Popular items of the user's top genres (best first), scored popularity x affinity.

    The genre ranked r-th weighs 1 / (r + 1); an item's affinity is the summed weight of its
    genres among them, so a film in two favourite genres beats an equally popular one in a
    single genre. Scores are mapped into (-2, -1) like the popularity route's: below every
    cosine. `exclude` (seen items) is skipped before taking k.
    """
    if k <= 0 or not top_genres:
        return []
    exclude = exclude or set()
    weights: dict[int, float] = {}
    popularity: dict[int, float] = {}
    for rank, genre in enumerate(dict.fromkeys(top_genres)):
        for item, score in genres.top(genre, k + len(exclude)):
            if item in exclude:
                continue
            weights[item] = weights.get(item, 0.0) + 1.0 / (rank + 1)
            popularity[item] = score
    ranked = sorted(weights, key=lambda item: (-weights[item] * popularity[item], item))[:k]
    n = len(ranked)
    return [(item, -1.0 - (rank + 1) / (n + 1)) for rank, item in enumerate(ranked)]
