"""A registered item bag's embeddings, loaded by a serving replica to embed users and score
candidates against them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.history_embeddings import HistoryEmbeddings, unit_rows
from core.online_store import UserProfile
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.models.item_bag_files import INPUTS_FILE, ITEMS_FILE, PARAMS_FILE, BagParams


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


class HistoryBagVectors:
    """The item bag's user vectors: the unit recency-weighted sum of the input embeddings of
    the items a user rated or clicked; a candidate's affinity is its item vector's cosine with
    it, the score the vector search ranks by."""

    def __init__(self, embeddings: HistoryEmbeddings) -> None:
        self.embeddings = embeddings

    @classmethod
    def load(cls, folder: Path, half_life: float) -> HistoryBagVectors:
        """From an item_bag version folder of the registry (…/recall/item_bag/v2)."""
        return cls(load_bag_embeddings(folder, half_life, f"{folder.parent.name}:{folder.name}"))

    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray | None:
        """The unit user vector (D,) of `history` (newest first); None when no item of it has
        an embedding."""
        return self.embeddings.vector(history)

    def affinity(self, query: np.ndarray, items: Sequence[int]) -> list[float | None] | None:
        return self.embeddings.affinity(query, items)
