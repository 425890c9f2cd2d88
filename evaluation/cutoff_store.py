"""The online store as it stood at the train/test cutoff: the one stand-in every offline run reads.

Recall evaluation and the /recommend replay both go through it, so a route measured alone and
the same route inside the replayed pipeline see the same profiles, seen sets and popularity.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from core.online_store import UserProfile, UserState
from evaluation.cutoff_features import CutoffFeatures
from recall_service.serving.genre_popularity import GenrePopularity

# ITEM_FEATURES columns a popularity ranking can follow: serving's decayed popularity, or the
# all-time rating count of the most-popular baseline.
PopularityColumn = Literal["item_popularity", "item_rating_count"]


class CutoffStore:
    """Profiles, seen sets and popularity from the features at the cutoff, and those features'
    item table written to `item_features`, where rank, rerank and the genre route read it as
    they read the published one. Build with `publish`.

    Satisfies recall's OnlineFeatures (`user_state`, `popular`) and rank's ProfileSource
    (`profiles`). Popularity ranks the items rated before the cutoff, as the features job
    publishes it.
    """

    def __init__(
        self,
        features: CutoffFeatures,
        item_features: Path,
        popularity: PopularityColumn = "item_popularity",
    ) -> None:
        self.features = features
        self.item_features = item_features
        self._profiles = {row["user_id"]: UserProfile(**row) for row in features.users.to_pylist()}
        self._ranking = _ranking(features.items, popularity)

    @classmethod
    def publish(cls, features: CutoffFeatures, scratch: Path) -> CutoffStore:
        """Write the item features under `scratch` (which must outlive the store)."""
        folder = scratch / "items"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(features.items, folder / "part-0.parquet")
        return cls(features, folder)

    def ranked_by(self, popularity: PopularityColumn) -> CutoffStore:
        """The same store with `popular` ranking items by another column."""
        other = copy.copy(self)
        other._ranking = _ranking(self.features.items, popularity)
        return other

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=self._profiles.get(user_id),
            history=self.features.rated.get(user_id, []),
            snapshot=None,
        )

    def profiles(self, user_ids: list[int]) -> dict[int, UserProfile]:
        return {u: self._profiles[u] for u in user_ids if u in self._profiles}

    def popular(self, n: int) -> list[tuple[int, float]]:
        return self._ranking[:n]

    def trending(self, n: int) -> list[tuple[int, float]]:
        """Nothing: a replay has no live events arriving after its cutoff."""
        return []

    def genres(self) -> GenrePopularity:
        """Each genre's popular items, loaded as a serving replica loads them."""
        return GenrePopularity.from_item_features(self.item_features)


def _ranking(items: pa.Table, column: PopularityColumn) -> list[tuple[int, float]]:
    rated = items.filter(items["item_rating_count"].to_numpy() > 0)
    scores = [float(score) for score in rated[column].to_pylist()]
    pairs = zip(rated["item_id"].to_pylist(), scores, strict=True)
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))
