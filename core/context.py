"""Context features (the C of f(U, I, C)): when something happens, and how long after the user's
previous rating.

One definition for the features job (a sample's moment is its rating's ts, and its sampled
negatives share it) and for serving (the request's moment), so the two cannot drift apart. Times
are epoch milliseconds and hours and days are UTC: the lake holds UTC times and knows no user's
time zone. The previous "event" is a rating: the features job reads ratings only, and a live
rating is what moves a profile's statistics, so the gap offline and the gap live agree.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
_MS_PER_HOUR = 3_600_000
_MS_PER_DAY = 86_400_000
# 1970-01-01 was a Thursday: day 3 with Monday as day 0, as datetime.weekday() counts.
_EPOCH_WEEKDAY = 3


def now_ms() -> int:
    """The current moment in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def context_columns(
    ts_ms: np.ndarray, last_ts_ms: pa.Array | pa.ChunkedArray
) -> dict[str, pa.Array]:
    """The CONTEXT columns (`core.tables`) of moments `ts_ms` whose users last rated at
    `last_ts_ms` (null where they never had: the gap is null too)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    last = pc.cast(last_ts_ms, pa.float64()).to_numpy(zero_copy_only=False)
    # Samples never see a later rating (their windows end before the moment), but a request can:
    # a live event may carry its client's ts, ahead of this replica's clock.
    seconds = np.maximum(ts - last, 0.0) / 1000.0
    return {
        "hour_of_day": pa.array(ts // _MS_PER_HOUR % HOURS_PER_DAY, pa.int8()),
        "day_of_week": pa.array((ts // _MS_PER_DAY + _EPOCH_WEEKDAY) % DAYS_PER_WEEK, pa.int8()),
        # from_pandas: the NaN of a user without a rating becomes null.
        "seconds_since_last_event": pa.array(seconds, pa.float32(), from_pandas=True),
    }
