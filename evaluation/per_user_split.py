"""The per-user split: each user's last share of ratings held out, as `peers.py` splits.

The global time split leaves most test users with little training history and many without any;
the per-user split asks how well each user is served once they have rated most of what they
will. Each user is replayed as of their own cutoff: the features are built from the training
part only (every row not held out), so a user's profile, seen set and history hold only their
own training ratings. Item statistics read every user's training part, some of it later than a
given user's cutoff, as `peers.py` fits its peers on the whole training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data_settings import DataSettings
from core.filesystem import StoragePath
from evaluation.cutoff_features import (
    TimeSplit,
    features_of,
    read_interaction_rows,
    unseen_positives,
)
from ingest.features.point_in_time import entities


@dataclass(frozen=True)
class PerUserSplit:
    """The split, and how many of its test positives were rated before the moment the
    evaluated models were trained up to: positives those models have seen."""

    split: TimeSplit
    positives_seen_in_training: int


def held_out_mask(
    user_ids: np.ndarray, ts_ms: np.ndarray, item_ids: np.ndarray, train_fraction: float
) -> np.ndarray:
    """(N,) bool, True for the rows in their user's last share: each user's rows ordered by
    (ts, item), the first round(train_fraction * n) kept for training, the rest held out."""
    order = np.lexsort((item_ids, ts_ms, user_ids))
    rows = entities(user_ids[order], ts_ms[order])
    sizes = rows.end - rows.start
    # np.round rounds halves to even, as Python's round does in peers.py: the same rows go.
    kept = np.round(train_fraction * sizes)
    held = np.empty(len(order), dtype=bool)
    held[order] = np.arange(len(order)) - rows.start >= kept
    return held


def read_per_user_split(
    events: StoragePath,
    items: StoragePath,
    data: DataSettings,
    trained_before_ms: int,
) -> PerUserSplit:
    """Both parts of every user's interactions (each user's last `data.test_fraction` held
    out) from one read of the lake."""
    rows, catalog = read_interaction_rows(events, items, data.implicit_rating)
    held = held_out_mask(
        rows["user_id"].to_numpy(),
        rows["ts_ms"].to_numpy(),
        rows["item_id"].to_numpy(),
        1.0 - data.test_fraction,
    )
    train, test = rows.filter(pa.array(~held)), rows.filter(pa.array(held))
    # Every training row lies before this moment: the features see the whole training part.
    end = int(pc.max(train["ts_ms"]).as_py()) + 1 if train.num_rows else 0
    features = features_of(
        train, catalog, end, data.label_threshold, data.popularity_half_life_days
    )
    positives = unseen_positives(test, features.seen, data.label_threshold)
    return PerUserSplit(
        split=TimeSplit(features, positives),
        positives_seen_in_training=_rated_before(test, positives, trained_before_ms),
    )


def _rated_before(test: pa.Table, positives: dict[int, set[int]], moment_ms: int) -> int:
    """How many (user, item) test positives have a held-out rating before `moment_ms`."""
    early = test.filter(pc.less(test["ts_ms"], moment_ms))
    pairs = zip(early["user_id"].to_pylist(), early["item_id"].to_pylist(), strict=True)
    return len({(u, i) for u, i in pairs if i in positives.get(u, ())})
