"""A registered item bag's input embeddings, loaded by a serving replica to embed users."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from core.online_store import UserProfile
from recall_service.index.milvus import l2_normalise
from recall_service.models.item_bag_files import INPUTS_FILE, ITEMS_FILE, PARAMS_FILE, BagParams


class HistoryBagVectors:
    """A user's vector: the unit mean input embedding of the items they rated.

    The online store keeps every rated item as an unordered `seen` set and only the newest few
    positives in order, so a history over the cap keeps those newest and fills up with the
    rest of `seen` by id: the training histories of ml-latest-small are mostly shorter than
    the cap, where order does not matter to a mean.
    """

    def __init__(self, inputs: np.ndarray, item_ids: np.ndarray, cap: int) -> None:
        self.inputs = inputs
        self.item_ids = item_ids
        self.cap = cap

    @classmethod
    def load(cls, folder: Path) -> HistoryBagVectors:
        """From an item_bag version folder of the registry."""
        params = BagParams.model_validate_json((folder / PARAMS_FILE).read_text())
        return cls(np.load(folder / INPUTS_FILE), np.load(folder / ITEMS_FILE), params.history_cap)

    def vector(
        self, profile: UserProfile | None, seen: Collection[int] = frozenset()
    ) -> np.ndarray | None:
        """The unit user vector (D,); None when no item of the history has an embedding."""
        recent = profile.user_recent_items if profile else []
        history = list(dict.fromkeys([*recent, *sorted(seen)]))[: self.cap]
        if not history or len(self.item_ids) == 0:
            return None
        items = np.asarray(history, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.item_ids, items), len(self.item_ids) - 1)
        rows = rows[self.item_ids[rows] == items]
        if len(rows) == 0:
            return None
        query = l2_normalise(self.inputs[rows].mean(axis=0))
        return query if np.any(query) else None
