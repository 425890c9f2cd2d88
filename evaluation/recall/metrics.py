"""Top-K ranking metrics of candidate lists against each user's held-out relevant items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Share of the relevant items found in the first k (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def hit_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """1 when any relevant item is in the first k, else 0."""
    return float(any(item in relevant for item in ranked[:k]))


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Binary-relevance NDCG: DCG of the first k over the DCG of a perfect list of
    min(k, |relevant|) hits; a hit at position p (0-based) earns 1 / log2(p + 2)."""
    if not relevant:
        return 0.0
    gains = [1.0 / np.log2(p + 2) for p, item in enumerate(ranked[:k]) if item in relevant]
    ideal = sum(1.0 / np.log2(p + 2) for p in range(min(k, len(relevant))))
    return float(sum(gains) / ideal)


def coverage_at_k(lists: Sequence[Sequence[int]], k: int, catalog_size: int) -> float:
    """Share of the catalog that appears in at least one user's first k items."""
    if catalog_size <= 0:
        return 0.0
    shown = {item for ranked in lists for item in ranked[:k]}
    return len(shown) / catalog_size


def mean_metrics(
    lists: Sequence[Sequence[int]],
    relevant: Sequence[set[int]],
    ks: Sequence[int],
    catalog_size: int,
) -> dict[str, float]:
    """Recall, NDCG and hit rate at each k averaged over users (list i belongs to relevant[i]),
    and catalog coverage at each k. Keys look like "recall@10", "coverage@100"."""
    pairs = list(zip(lists, relevant, strict=True))
    users = max(len(pairs), 1)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, t, k) for r, t in pairs) / users
        out[f"ndcg@{k}"] = sum(ndcg_at_k(r, t, k) for r, t in pairs) / users
        out[f"hit_rate@{k}"] = sum(hit_at_k(r, t, k) for r, t in pairs) / users
        out[f"coverage@{k}"] = coverage_at_k(lists, k, catalog_size)
    return out
