"""Row validation: every parsed row becomes an event or a quarantine row with its reason."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from core.tables import EVENT_PARTITION, EVENT_TYPES
from ingest.sources.spec import TsUnit

REASON = "reason"
_MS_PER_UNIT: dict[str, float] = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
CHECKED_COLUMNS = (
    "event_id",
    "user_id",
    "item_id",
    "event_type",
    "value",
    "ts_ms",
    REASON,
    "line",
    "raw",
)


class EventRules(BaseModel, frozen=True):
    """What a valid row is, and how to read its timestamp."""

    min_value: float = Field(0.5, description="smallest valid rating")
    max_value: float = Field(5.0, description="largest valid rating")
    now_ms: int = Field(description="timestamps after this are in the future")
    ts_unit: TsUnit = "s"
    ts_format: str | None = None
    event_type: str | None = Field(None, description="type of rows without a type field")


def _number(column: pd.Series) -> pd.Series:
    """Float64 with NaN for anything unparsable or infinite.

    Arrow parses a clean text column in bulk; pandas (object first, because Arrow-backed
    columns parse to nullable types whose comparisons yield NA) takes the ones with bad values.
    """
    try:
        parsed = pc.cast(pa.array(column, from_pandas=True), pa.float64())
        values = pd.Series(parsed.to_numpy(zero_copy_only=False), index=column.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        values = pd.to_numeric(column.astype(object), errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def _blank(column: pd.Series) -> pd.Series:
    values = column.astype(object)
    return values.isna() | (values == "")


def _first_reason(checks: list[tuple[str, pd.Series]], start: pd.Series) -> pd.Series:
    """The first failed check of each row, or None; a reason set while parsing wins."""
    reason = pd.Series([None] * len(start), index=start.index, dtype=object)
    for name, failed in reversed(checks):
        reason = reason.mask(failed.to_numpy(dtype=bool), name)
    merged = start.astype(object).where(start.notna(), reason)
    return merged.where(merged.notna(), None)


def _timestamp_ms(raw: pd.Series, rules: EventRules) -> pd.Series:
    """Milliseconds since the epoch as float64, NaN when the text does not parse."""
    if rules.ts_format is None:
        return _number(raw) * _MS_PER_UNIT[rules.ts_unit]
    parsed = pd.to_datetime(raw.astype(object), format=rules.ts_format, utc=True, errors="coerce")
    ms = parsed.astype("datetime64[ms, UTC]").astype("int64").astype("float64")
    return ms.where(parsed.notna())


def _column(raw: pd.DataFrame, name: str, fill: str | None = None) -> pd.Series:
    if name in raw.columns:
        return raw[name]
    return pd.Series([fill] * len(raw), index=raw.index, dtype=object)


def _tag_digest(tags: pd.Series) -> pd.Series:
    """A short stable digest of each tag's text, so several tags of one moment stay apart."""
    return tags.map(lambda t: "" if pd.isna(t) else ":" + _sha(str(t)))


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def validate_events(raw: pd.DataFrame, rules: EventRules) -> pd.DataFrame:
    """Check parsed rows (canonical fields as text) and type them.

    `raw` has any of the columns user, item, value, ts, type, tag, event_id plus `reason` (set
    when the line could not be parsed), `line` and `raw`. Returns CHECKED_COLUMNS; `reason` is
    None for a good row and names the first failed check otherwise; `raw` is kept for bad rows.
    """
    parse_reason = _column(raw, REASON)
    user = _number(_column(raw, "user"))
    item = _number(_column(raw, "item"))
    kind = _column(raw, "type", rules.event_type).astype(object).astype(str).str.strip()
    value_text = _column(raw, "value")
    value = _number(value_text)
    rating = (kind == "rating").to_numpy()
    ts_ms = _timestamp_ms(_column(raw, "ts"), rules)
    checks = [
        (
            "missing field",
            _blank(_column(raw, "user"))
            | _blank(_column(raw, "item"))
            | _blank(_column(raw, "ts"))
            | (rating & _blank(value_text)),
        ),
        ("user id not an integer", user.isna() | (user != np.floor(user))),
        ("item id not an integer", item.isna() | (item != np.floor(item))),
        ("negative id", (user < 0) | (item < 0)),
        ("unknown event type", ~kind.isin(EVENT_TYPES)),
        ("rating not a number", rating & value.isna()),
        ("rating out of range", rating & ((value < rules.min_value) | (value > rules.max_value))),
        ("value not a number", ~_blank(value_text) & value.isna()),
        ("timestamp unparsable", ts_ms.isna()),
        ("timestamp in the future", ts_ms > rules.now_ms),
    ]
    reason = _first_reason(checks, parse_reason)
    ms = ts_ms.fillna(0).astype("int64")
    user_id = user.fillna(-1).astype("int64")
    item_id = item.fillna(-1).astype("int64")
    derived = kind + ":" + user_id.astype(str) + ":" + item_id.astype(str) + ":" + ms.astype(str)
    if "tag" in raw.columns:
        derived = derived + _tag_digest(raw["tag"])
    given = _column(raw, "event_id")
    event_id = given.where(~_blank(given), derived) if "event_id" in raw.columns else derived
    return pd.DataFrame(
        {
            "event_id": event_id.astype(str),
            "user_id": user_id,
            "item_id": item_id,
            "event_type": kind,
            "value": value.fillna(1.0).astype("float32"),
            "ts_ms": ms,
            REASON: reason,
            "line": _column(raw, "line").astype("Int64"),
            "raw": _column(raw, "raw").where(reason.notna(), None),
        }
    )


def to_events(checked: pd.DataFrame, source: str, skip_files: list[str]) -> pd.DataFrame:
    """The good rows of a checked batch in the EVENTS layout plus the lake's partition column.

    Rows of `skip_files` (files found unreadable in another chunk) are left out whole.
    """
    valid = checked[checked[REASON].isna() & ~checked["file"].isin(skip_files)]
    ts = pd.to_datetime(valid["ts_ms"], unit="ms", utc=True)
    return pd.DataFrame(
        {
            "event_id": valid["event_id"],
            "user_id": valid["user_id"],
            "item_id": valid["item_id"],
            "event_type": valid["event_type"],
            "value": valid["value"],
            "ts": ts.astype("datetime64[ms, UTC]"),
            "source": source,
            EVENT_PARTITION: ts.dt.strftime("%Y-%m"),
        }
    )
