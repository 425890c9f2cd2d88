"""Sparse item-item weights as a dense matrix, for tests to read them by (row, column)."""

from __future__ import annotations

import numpy as np

from recall_service.models.item_cf import ItemCFWeights


def dense(weights: ItemCFWeights) -> np.ndarray:
    out = np.zeros((weights.num_items, weights.num_items))
    for row in range(weights.num_items):
        span = slice(weights.indptr[row], weights.indptr[row + 1])
        out[row, weights.indices[span]] = weights.weights[span]
    return out
