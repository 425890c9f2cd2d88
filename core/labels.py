"""The positive-label rule, written once: a rating at or above `label_threshold` is a positive.

Clicks and views are interactions too: each stands for a rating of `implicit_rating`
(`DataSettings`, at least the threshold), so wherever a rating is read, one of them reads as a
positive rating; `interaction_ratings` gives that value for a column of events.

Ratings are stored as float32, so the rule compares in float32 everywhere (samples, features,
sequences, the online store): a threshold such as 3.3, which float32 rounds, then means the
same rating in every place.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INTERACTION_TYPES = ("rating", "click", "view")
IMPLICIT_TYPES = ("click", "view")


def interaction_rating(event_type: str, value: float, implicit_rating: float) -> float:
    """The rating one interaction stands for: a rating's own value, else `implicit_rating`."""
    return value if event_type == "rating" else implicit_rating


def interaction_ratings(
    event_types: pa.Array | pa.ChunkedArray,
    values: pa.Array | pa.ChunkedArray,
    implicit_rating: float,
) -> pa.Array | pa.ChunkedArray:
    """float32 ratings of interaction events: a rating's value, `implicit_rating` otherwise."""
    implied = pa.scalar(implicit_rating, pa.float32())
    return pc.if_else(pc.equal(event_types, "rating"), values.cast(pa.float32()), implied)


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
