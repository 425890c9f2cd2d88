"""The item vocabulary of an embedding model: item ids <-> dense row indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = -1


@dataclass(frozen=True)
class ItemVocab:
    """Sorted unique item ids (row i of the embedding is item_ids[i]) and how often each occurs."""

    item_ids: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_items(cls, items: np.ndarray) -> ItemVocab:
        item_ids, counts = np.unique(np.asarray(items, dtype=np.int64), return_counts=True)
        return cls(item_ids=item_ids, counts=counts)

    def __len__(self) -> int:
        return len(self.item_ids)

    def encode(self, items: np.ndarray) -> np.ndarray:
        """Row indices of `items`, UNKNOWN for items outside the vocabulary."""
        items = np.asarray(items, dtype=np.int64)
        if len(self.item_ids) == 0:
            return np.full(items.shape, UNKNOWN, dtype=np.int64)
        rows = np.searchsorted(self.item_ids, items)
        rows = np.minimum(rows, len(self.item_ids) - 1)
        return np.where(self.item_ids[rows] == items, rows, UNKNOWN)
