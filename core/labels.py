"""The positive-label rule, written once: a rating at or above `label_threshold` is a positive.

Ratings are stored as float32, so the rule compares in float32 everywhere (samples, features,
sequences, the online store): a threshold such as 3.3, which float32 rounds, then means the
same rating in every place.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_positive(rating: float, label_threshold: float) -> bool:
    """One rating, e.g. a live event's value."""
    return bool(np.float32(rating) >= np.float32(label_threshold))


def positive_mask(ratings: np.ndarray, label_threshold: float) -> np.ndarray:
    """(N,) bool for (N,) ratings."""
    return np.asarray(ratings, dtype=np.float32) >= np.float32(label_threshold)


def positive_column(
    ratings: pa.Array | pa.ChunkedArray, label_threshold: float
) -> pa.Array | pa.ChunkedArray:
    """Arrow booleans for an Arrow column of float32 ratings."""
    return pc.greater_equal(ratings, pa.scalar(label_threshold, pa.float32()))
