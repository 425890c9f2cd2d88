"""Recall routes: each turns what is known about a user into scored candidate items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from recall_service.index.item_attributes import ItemFilter
from recall_service.index.milvus import l2_normalise


class ItemIndex(Protocol):
    """What the embedding route needs from a vector index (VectorIndex, ExactIndex)."""

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def search(
        self, vectors: np.ndarray, k: int, where: ItemFilter | None = None
    ) -> list[list[tuple[int, float]]]: ...


def embedding_route(
    index: ItemIndex, query: np.ndarray | None, k: int, where: ItemFilter | None = None
) -> list[tuple[int, float]]:
    """Items nearest to the user vector `query` (D,), cosine scores, only items passing `where`
    when it is given; empty without a query."""
    if k <= 0 or query is None:
        return []
    return index.search(query[None, :], k, where)[0]


def mean_item_vector(index: ItemIndex, recent: Sequence[int]) -> np.ndarray | None:
    """The unit mean vector of `recent` (unknown items skipped); None when none has a vector."""
    if not recent:
        return None
    found = index.vectors(recent)
    known = [found[item] for item in recent if item in found]
    if not known:
        return None
    query = l2_normalise(np.mean(known, axis=0))
    return query if np.any(query) else None


def popular_scores(popular: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Popularity ranks mapped into (-2, -1): below every cosine similarity, best first."""
    n = len(popular)
    return [(item, -1.0 - (rank + 1) / (n + 1)) for rank, (item, _) in enumerate(popular)]


def item_to_item_route(
    index: ItemIndex, seeds: Sequence[int], k: int, where: ItemFilter | None = None
) -> list[tuple[int, float]]:
    """Neighbours of each seed item (newest first), scored by their mean cosine over all seeds;
    only items passing `where` when it is given, and never a seed.

    An item near several seeds outranks one near a single seed; averaging over every seed (not
    only those that found it) keeps the scores within [-1, 1], comparable to the embedding route.
    Seeds without a vector are skipped; empty when none has one.
    """
    if k <= 0 or not seeds:
        return []
    found = index.vectors(seeds)
    known = [item for item in dict.fromkeys(seeds) if item in found]
    if not known:
        return []
    hits = index.search(
        np.stack([found[item] for item in known]), k, (where or ItemFilter()).excluding(known)
    )
    totals: dict[int, float] = {}
    for neighbours in hits:
        for item, score in neighbours:
            totals[item] = totals.get(item, 0.0) + score
    ranked = sorted(totals.items(), key=lambda pair: pair[1], reverse=True)[:k]
    return [(item, total / len(known)) for item, total in ranked]
