"""A registered item bag's embeddings, loaded by a serving replica to embed users and score
candidates against them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.history_embeddings import HistoryEmbeddings, fold_of, unit_rows
from core.online_store import UserProfile
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.models.item_bag_files import (
    FOLDS_FILE,
    INPUTS_FILE,
    ITEMS_FILE,
    PARAMS_FILE,
    BagParams,
)


def load_bag_embeddings(folder: Path, half_life: float, model: str) -> HistoryEmbeddings:
    """An item_bag version folder's input embeddings and published item vectors."""
    params = BagParams.model_validate_json((folder / PARAMS_FILE).read_text())
    item_ids = np.load(folder / ITEMS_FILE)
    if not np.array_equal(np.load(folder / ITEM_IDS), item_ids):
        raise ValueError(f"{folder}: the index's items are not the bag's items")
    return HistoryEmbeddings(
        inputs=np.load(folder / INPUTS_FILE),
        outputs=unit_rows(np.load(folder / VECTORS)),
        item_ids=item_ids,
        cap=params.history_cap,
        half_life=half_life,
        model=model,
    )


def load_held_out_embeddings(folder: Path, full: HistoryEmbeddings) -> list[HistoryEmbeddings]:
    """The version's fold bags (each trained without one fold of users), fold order; none when
    it was trained without folds."""
    if not (folder / FOLDS_FILE).is_file():
        return []
    with np.load(folder / FOLDS_FILE) as arrays:
        count = sum(1 for name in arrays.files if name.startswith("inputs_"))
        return [
            replace(
                full,
                inputs=arrays[f"inputs_{fold}"],
                outputs=unit_rows(arrays[f"outputs_{fold}"]),
            )
            for fold in range(count)
        ]


class HistoryBagVectors:
    """The item bag's user vectors: the unit recency-weighted sum of the input embeddings of
    the items a user rated or clicked. A candidate's affinity is its item vector's cosine with
    the user vector made by the fold bag that never saw the user (`held_out`, one per fold),
    as the ranker learnt it; without fold bags, by the bag itself."""

    def __init__(self, embeddings: HistoryEmbeddings, held_out: list[HistoryEmbeddings]) -> None:
        self.embeddings = embeddings
        self.held_out = held_out

    @classmethod
    def load(cls, folder: Path, half_life: float) -> HistoryBagVectors:
        """From an item_bag version folder of the registry (…/recall/item_bag/v2)."""
        full = load_bag_embeddings(folder, half_life, f"{folder.parent.name}:{folder.name}")
        return cls(full, load_held_out_embeddings(folder, full))

    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray | None:
        """The unit user vector (D,) of `history` (newest first); None when no item of it has
        an embedding."""
        return self.embeddings.vector(history)

    def affinity(
        self, user_id: int, history: Sequence[int], items: Sequence[int]
    ) -> list[float | None] | None:
        """Each item's affinity to the user (None for an item the bag does not know); None
        when no item of the history has an embedding."""
        bag = self.embeddings
        if self.held_out:
            bag = self.held_out[int(fold_of(user_id, len(self.held_out)))]
        query = bag.vector(history)
        return None if query is None else bag.affinity(query, items)
