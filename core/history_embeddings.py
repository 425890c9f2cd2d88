"""A user as the recency-weighted sum of their history's item embeddings, and the affinity of
items to that user: the same arithmetic for serving (one user, now) and for rank training (every
sample row, as of its own moment), so that the ranker sees in training what it gets served."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def recency_weights(length: int, half_life: float) -> np.ndarray:
    """Weight of the k-th newest history item, (length,): halves every `half_life` items.

    Measured on ml-latest-small's per-user validation carve, users' next items are nearer
    their newest ones: with the item bag, weighting by recency lifts Recall@50 from 0.305
    (plain mean) to 0.319 (half-life 10 items)."""
    return np.power(0.5, np.arange(length, dtype=np.float64) / half_life)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class HistoryEmbeddings:
    """`inputs` (V, D) make users, `outputs` (V, D, unit rows) are scored against them; row v of
    both is item `item_ids[v]` (sorted). A user vector uses the newest `cap` history items, each
    weighted by `recency_weights`. `model` names the recall version they come from."""

    inputs: np.ndarray
    outputs: np.ndarray
    item_ids: np.ndarray
    cap: int
    half_life: float
    model: str

    def rows(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of `items`, -1 for an item these embeddings do not know."""
        wanted = np.asarray(items, dtype=np.int64)
        if len(self.item_ids) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.item_ids, wanted), len(self.item_ids) - 1)
        return np.where(self.item_ids[rows] == wanted, rows, -1)

    def weighted_rows(
        self, history: Sequence[int], half_life: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows (H,) of the known items among the newest `cap` of `history` (newest first) and
        their recency weights (H,), halving every `half_life` items (these embeddings' own by
        default). An unknown item still takes its place in the recency order."""
        rows = self.rows(list(history)[: self.cap])
        weights = recency_weights(len(rows), half_life or self.half_life)[rows >= 0]
        return rows[rows >= 0], weights

    def vector(self, history: Sequence[int]) -> np.ndarray | None:
        """The unit user vector (D,) of `history` (items newest first); None when no item of
        it has an embedding."""
        rows, weights = self.weighted_rows(history)
        if len(rows) == 0:
            return None
        query = unit_rows((self.inputs[rows] * weights[:, None]).sum(axis=0))
        return query if np.any(query) else None

    def affinity(self, query: np.ndarray, items: Sequence[int]) -> list[float | None]:
        """Cosine of each item's output vector with the unit user vector `query` (D,); None for
        an item these embeddings do not know."""
        rows = self.rows(items)
        scores = self.outputs[np.maximum(rows, 0)] @ np.asarray(query, dtype=np.float32)
        return [float(s) if r >= 0 else None for r, s in zip(rows, scores, strict=True)]
