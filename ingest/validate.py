"""Row validation: every raw row becomes an event or a quarantine row with its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel

from core.tables import EVENT_PARTITION

REASON = "reason"
RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")


class RatingRules(BaseModel, frozen=True):
    """What a valid rating row is."""

    min_value: float = 0.5
    max_value: float = 5.0
    now_ms: int


def _number(column: pd.Series) -> pd.Series:
    """Float64 with NaN for anything unparsable; object first, because Arrow-backed columns
    parse to nullable types whose comparisons yield NA instead of False."""
    return pd.to_numeric(column.astype(object), errors="coerce").astype("float64")


def _first_reason(checks: list[tuple[str, pd.Series]], index: pd.Index) -> pd.Series:
    """The first failed check of each row, or None; earlier checks win."""
    reason = pd.Series([None] * len(index), index=index, dtype=object)
    for name, failed in reversed(checks):
        reason = reason.mask(failed.to_numpy(dtype=bool), name)
    return reason


def validate_ratings(raw: pd.DataFrame, rules: RatingRules) -> pd.DataFrame:
    """Check raw MovieLens rating rows (all columns as strings).

    Returns the rows with typed columns `user_id`, `item_id`, `value`, `ts_ms` and a `reason`
    column that is None for a good row and names the first failed check otherwise.
    """
    user = _number(raw["userId"])
    item = _number(raw["movieId"])
    value = _number(raw["rating"])
    seconds = _number(raw["timestamp"])
    checks = [
        ("missing field", raw[list(RATING_COLUMNS)].isna().any(axis=1)),
        ("user id not an integer", user.isna() | (user != np.floor(user))),
        ("item id not an integer", item.isna() | (item != np.floor(item))),
        ("negative id", (user < 0) | (item < 0)),
        ("rating not a number", value.isna()),
        ("rating out of range", (value < rules.min_value) | (value > rules.max_value)),
        ("timestamp not an integer", seconds.isna()),
        ("timestamp in the future", seconds * 1000 > rules.now_ms),
    ]
    out = pd.DataFrame(
        {
            "user_id": user.fillna(-1).astype("int64"),
            "item_id": item.fillna(-1).astype("int64"),
            "value": value.fillna(0).astype("float32"),
            "ts_ms": (seconds.fillna(0) * 1000).astype("int64"),
        }
    )
    out[REASON] = _first_reason(checks, raw.index)
    out["raw"] = raw[list(RATING_COLUMNS)].fillna("").astype(str).agg(",".join, axis=1)
    return out


def to_events(checked: pd.DataFrame, event_type: str, source: str) -> pd.DataFrame:
    """The good rows of a checked batch in the EVENTS layout plus the lake's partition column."""
    valid = checked[checked[REASON].isna()]
    ts = pd.to_datetime(valid["ts_ms"], unit="ms", utc=True)
    event_id = (
        f"{event_type}:"
        + valid["user_id"].astype(str)
        + ":"
        + valid["item_id"].astype(str)
        + ":"
        + valid["ts_ms"].astype(str)
    )
    return pd.DataFrame(
        {
            "event_id": event_id,
            "user_id": valid["user_id"],
            "item_id": valid["item_id"],
            "event_type": event_type,
            "value": valid["value"],
            "ts": ts.astype("datetime64[ms, UTC]"),
            "source": source,
            EVENT_PARTITION: ts.dt.strftime("%Y-%m"),
        }
    )
