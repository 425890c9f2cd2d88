"""Fit item transitions: which items users go on to after an item, counted over the next few
places of every user's time-ordered history and kept sparse.

EASE (item_cf.py) reads a history as a set; what a user turns to next depends most on what they
did last. On ml-latest-small's per-user validation carve (the last 12.5 % of each user's
training part), EASE over the recency-weighted history reached Recall@50 0.349 / NDCG@10 0.104;
adding these transitions' scores over the history's newest items (half-life 3) at half EASE's
weight gave 0.363 / 0.119. Windows of 5-100 places and decays of 0.9-1.0 all landed within
0.357-0.365: the gain is the direction of time, not a tuned constant. Through the pipeline, beside
the item bag and EASE, /recommend went from 0.351 / 0.113 to 0.363 / 0.128 on that carve.
"""

from __future__ import annotations

import numpy as np

from recall_service.models.item_cf import ItemCFWeights


def fit_transitions(
    users: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    num_items: int,
    window: int,
    decay: float,
    neighbours: int,
) -> ItemCFWeights:
    """Weights W (V, V) with W[a, b] = C[a, b] / sqrt((out(a) + 1) (in(b) + 1)).

    users, items, times: (N,) every history row (item rows < `num_items`); C[a, b] sums
    decay ** (d - 1) over every time b came d <= `window` places after a in one user's history
    (ordered by time, then item, as the evaluation splits order ties), a != b; out and in are C's
    row and column sums, so that an item everyone goes on to does not lead every row. Each row
    keeps its `neighbours` largest weights.
    """
    order = np.lexsort((items, times, users))
    users = np.asarray(users)[order]
    items = np.asarray(items, dtype=np.int64)[order]
    pairs = np.zeros(0, dtype=np.int64)  # source * num_items + target, distinct
    counts = np.zeros(0, dtype=np.float64)
    # One offset at a time: all N x window pairs at once would not fit at catalogue scale.
    for offset in range(1, window + 1):
        same = (users[:-offset] == users[offset:]) & (items[:-offset] != items[offset:])
        keys = items[:-offset][same] * num_items + items[offset:][same]
        values = np.full(len(keys), decay ** (offset - 1))
        pairs, where = np.unique(np.concatenate([pairs, keys]), return_inverse=True)
        counts = np.bincount(where, weights=np.concatenate([counts, values]))
    sources, targets = np.divmod(pairs, num_items)
    outgoing = np.bincount(sources, weights=counts, minlength=num_items)
    incoming = np.bincount(targets, weights=counts, minlength=num_items)
    weights = counts / np.sqrt((outgoing[sources] + 1.0) * (incoming[targets] + 1.0))
    return _strongest(sources, targets, weights, num_items, neighbours)


def _strongest(
    rows: np.ndarray, columns: np.ndarray, weights: np.ndarray, num_items: int, keep: int
) -> ItemCFWeights:
    """The `keep` largest weights of each row of the (row, column, weight) triples, CSR."""
    order = np.lexsort((columns, -weights, rows))  # ties: the lower item first
    rows, columns, weights = rows[order], columns[order], weights[order]
    starts = np.searchsorted(rows, np.arange(num_items))
    place = np.arange(len(rows)) - starts[rows]
    kept = place < keep
    lengths = np.bincount(rows[kept], minlength=num_items)
    return ItemCFWeights(
        indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        indices=columns[kept].astype(np.int64),
        weights=weights[kept].astype(np.float32),
    )
