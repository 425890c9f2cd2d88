"""Where the embedding route's user vector comes from, per recall model."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np

from core.online_store import UserProfile
from recall_service.serving.routes import ItemIndex, mean_item_vector


class UserVectors(Protocol):
    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray | None:
        """The user's query vector (D,) from their profile and every item they rated or
        clicked (`history`, newest first), or None when there is nothing to go on."""
        ...

    def affinity(
        self, query: np.ndarray, history: Sequence[int], items: Sequence[int]
    ) -> list[float | None] | None:
        """The model's user-item score of each item for the user vector `query` (D,) made of
        `history`, None for an item it does not know; None when the model gives the ranker no
        such score."""
        ...

    def collaborative(
        self, history: Sequence[int], k: int, exclude: Collection[int]
    ) -> list[tuple[int, float]]:
        """The item-CF route: the k items, none of `exclude`, that the items of `history`
        (newest first) speak for most, best first; empty when the model has no such weights."""
        ...


class MeanOfRecentItems:
    """item2vec and DeepWalk: the mean vector of the user's newest `recent` positives."""

    def __init__(self, index: ItemIndex, recent: int) -> None:
        self.index = index
        self.recent = recent

    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray | None:
        if profile is None:
            return None
        return mean_item_vector(self.index, profile.user_recent_items[: self.recent])

    def affinity(
        self, query: np.ndarray, history: Sequence[int], items: Sequence[int]
    ) -> list[float | None] | None:
        return None

    def collaborative(
        self, history: Sequence[int], k: int, exclude: Collection[int]
    ) -> list[tuple[int, float]]:
        return []
