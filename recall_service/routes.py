"""Recall routes: each turns what is known about a user into scored candidate items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from recall_service.index import l2_normalise


class ItemIndex(Protocol):
    """What the embedding route needs from a vector index (VectorIndex provides it)."""

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]: ...


def embedding_route(index: ItemIndex, recent: Sequence[int], k: int) -> list[tuple[int, float]]:
    """Items nearest to the mean vector of `recent` (unknown items skipped), cosine scores.

    Empty when none of the recent items has a vector.
    """
    if k <= 0 or not recent:
        return []
    found = index.vectors(recent)
    known = [found[item] for item in recent if item in found]
    if not known:
        return []
    query = l2_normalise(np.mean(known, axis=0))
    if not np.any(query):
        return []
    return index.search(query[None, :], k)[0]


def popular_scores(popular: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Popularity ranks mapped into (-2, -1): below every cosine similarity, best first."""
    n = len(popular)
    return [(item, -1.0 - (rank + 1) / (n + 1)) for rank, (item, _) in enumerate(popular)]
