"""Offline check of an embedding: does a user's next item sit near their recent items?"""

from __future__ import annotations

import numpy as np

from recall_service.training.sequences import ItemSequences
from recall_service.training.vocab import UNKNOWN

_CHUNK = 512
# Queries a hit rate is measured on at most, drawn at random (seed 0) from more: 20,000 give a
# standard error under 0.4 points, and every one of ml-25m's 162k users took ~10 minutes on
# two cores (two partial sorts of 62k scores each).
MAX_QUERIES = 20_000


def next_item_hit_rates(
    vectors: np.ndarray,
    counts: np.ndarray,
    history: ItemSequences,
    users: np.ndarray,
    targets: np.ndarray,
    k: int = 50,
    recent: int = 10,
) -> dict[str, float]:
    """Hit rate@k of the embedding route and of plain popularity on held-out next items.

    `vectors` (V, D) are L2-normalised item vectors, `counts` (V,) item frequencies, `history`
    holds vocabulary row indices (UNKNOWN outside it), and `users[i]`'s next item is the row
    index `targets[i]`. A user's query is the mean vector of their last `recent` known items;
    both routes skip the items the user already has, as serving does. Users with no known
    history are left out of both rates.
    """
    starts = history.starts
    queries, exclude, kept = [], [], []
    for i, u in enumerate(users):
        rows = history.items[starts[u] : starts[u] + history.lengths[u]]
        rows = rows[rows != UNKNOWN]
        if len(rows) == 0:
            continue
        queries.append(vectors[rows[-recent:]].mean(axis=0))
        exclude.append(rows)
        kept.append(i)
    if not kept:
        return {"hit_rate": 0.0, "popular_hit_rate": 0.0, "eval_users": 0.0}
    return hit_rates(np.stack(queries), exclude, targets[np.asarray(kept)], vectors, counts, k)


def hit_rates(
    queries: np.ndarray,
    exclude: list[np.ndarray],
    targets: np.ndarray,
    vectors: np.ndarray,
    counts: np.ndarray,
    k: int,
) -> dict[str, float]:
    """Hit rate@k of searching `vectors` (V, D) with `queries` (Q, D) and of plain popularity
    (`counts` (V,)), when query i wants row `targets[i]` and must not get rows `exclude[i]`;
    over MAX_QUERIES of them at most."""
    if len(queries) == 0:
        return {"hit_rate": 0.0, "popular_hit_rate": 0.0, "eval_users": 0.0}
    if len(queries) > MAX_QUERIES:
        drawn = np.sort(np.random.default_rng(0).choice(len(queries), MAX_QUERIES, replace=False))
        queries, targets = queries[drawn], targets[drawn]
        exclude = [exclude[i] for i in drawn]
    popularity = np.asarray(counts, dtype=np.float64)
    embedding_hits = popular_hits = 0
    for begin in range(0, len(queries), _CHUNK):
        block = slice(begin, begin + _CHUNK)
        scores = queries[block] @ vectors.T
        popular = np.broadcast_to(popularity, scores.shape).copy()
        for row, seen in enumerate(exclude[block]):
            scores[row, seen] = -np.inf
            popular[row, seen] = -np.inf
        embedding_hits += _hits(scores, targets[block], k)
        popular_hits += _hits(popular, targets[block], k)
    return {
        "hit_rate": embedding_hits / len(queries),
        "popular_hit_rate": popular_hits / len(queries),
        "eval_users": float(len(queries)),
    }


def _hits(scores: np.ndarray, targets: np.ndarray, k: int) -> int:
    """How many rows have their target among their k best-scoring columns."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return int((top == targets[:, None]).any(axis=1).sum())
