"""Where the embedding route's user vector comes from, per recall model."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from core.online_store import UserProfile
from recall_service.routes import ItemIndex, mean_item_vector
from recall_service.user_tower import UserTowerVectors

# Models whose registry folder holds a user tower; the others' users are their recent items.
_TOWERS = {"two_tower"}


class UserVectors(Protocol):
    def vector(self, profile: UserProfile | None) -> np.ndarray | None:
        """The user's query vector (D,), or None when there is nothing to go on."""
        ...


class MeanOfRecentItems:
    """item2vec and DeepWalk: the mean vector of the user's newest `recent` positives."""

    def __init__(self, index: ItemIndex, recent: int) -> None:
        self.index = index
        self.recent = recent

    def vector(self, profile: UserProfile | None) -> np.ndarray | None:
        if profile is None:
            return None
        return mean_item_vector(self.index, profile.user_recent_items[: self.recent])


def user_vectors_for(name: str, folder: Path, index: ItemIndex, recent: int) -> UserVectors:
    """The user-vector source of recall model `name`, whose version lives in `folder`."""
    if name in _TOWERS:
        return UserTowerVectors.load(folder)
    return MeanOfRecentItems(index, recent)
