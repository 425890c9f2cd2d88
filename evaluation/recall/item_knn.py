"""Item-KNN baseline: items scored by their co-occurrence cosine with the user's positives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

_CHUNK = 256


def item_knn_lists(
    train: Mapping[int, list[int]],
    users: Sequence[int],
    seen: Mapping[int, set[int]],
    k: int,
) -> list[list[int]]:
    """For each of `users`, the k unseen items with the highest summed cosine similarity
    (co-occurrence in `train` users' positive sets) to the user's own positives.

    similarity(i, j) = |users with both| / sqrt(|users with i| |users with j|). The item x item
    matrix is never formed: scores = (X_u D^-1/2) X^T X D^-1/2 for the user rows X_u, where X
    is the binary (train users x items) matrix and D holds item counts. Users without
    positives in `train` get an empty list.
    """
    item_ids = np.unique(np.fromiter((i for items in train.values() for i in items), np.int64))
    if len(item_ids) == 0:
        return [[] for _ in users]
    column = {int(item): c for c, item in enumerate(item_ids)}
    x = np.zeros((len(train), len(item_ids)), dtype=np.float32)
    for row, items in enumerate(train.values()):
        x[row, [column[i] for i in items]] = 1.0
    scale = 1.0 / np.sqrt(np.maximum(x.sum(axis=0), 1.0))
    out: list[list[int]] = []
    for begin in range(0, len(users), _CHUNK):
        block = users[begin : begin + _CHUNK]
        xu = np.zeros((len(block), len(item_ids)), dtype=np.float32)
        for row, user in enumerate(block):
            xu[row, [column[i] for i in train.get(user, []) if i in column]] = 1.0
        scores = ((xu * scale) @ x.T @ x) * scale
        for row, user in enumerate(block):
            if not xu[row].any():
                out.append([])
                continue
            excluded = [column[i] for i in seen.get(user, set()) if i in column]
            scores[row, excluded] = -np.inf
            out.append(_top(scores[row], item_ids, k))
    return out


def _top(scores: np.ndarray, item_ids: np.ndarray, k: int) -> list[int]:
    """Ids of the k best finite, positive scores, best first."""
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [int(item_ids[j]) for j in best if np.isfinite(scores[j]) and scores[j] > 0]
