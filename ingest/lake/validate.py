"""Row validation: every parsed row becomes an event or a quarantine row with its reason.

Everything is computed on whole Arrow columns: a chunk of millions of rows costs no Python per
row, except the few values that are neither blank nor a plain decimal number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from core.event_key import content_keys, text_keys
from core.tables import EVENT_TYPES, EVENTS
from ingest.lake.exact_ids import exact_ids
from ingest.lake.sources.spec import TsUnit

REASON = "reason"
MS_PER_DAY = 86_400_000
# The earliest accepted time, 1900-01-01 UTC: older is a unit mix-up or garbage, not an event;
# it also keeps every accepted time well inside pandas' nanosecond range (1677..2262), which
# readers of the lake convert to.
MIN_TS_MS = -2_208_988_800_000
# Values are stored as float32: larger magnitudes would become inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# month_index converts each day of the rows' span once while the span is at most this long.
_DAY_TABLE_SPAN = 200 * 366
_MS_PER_UNIT: dict[str, float] = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
# What Arrow's string-to-float cast accepts; other text goes through pandas, which knows more.
_NO_TEXT = pa.scalar(None, pa.string())
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
CHECKED = pa.schema(
    [
        pa.field("event_id", pa.int64()),
        pa.field("user_id", pa.int64()),
        pa.field("item_id", pa.int64()),
        pa.field("event_type", pa.string()),
        pa.field("value", pa.float32()),
        pa.field("ts_ms", pa.int64()),
        pa.field(REASON, pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw", pa.string()),
    ]
)
# Good events as a chunk stages them: EVENTS without `source` (one value per run, added when
# the lake is written) plus the month they belong to, as months since 1970-01.
MONTH = "month_index"
STAGED = pa.schema([f for f in EVENTS if f.name != "source"] + [pa.field(MONTH, pa.int32())])


class EventRules(BaseModel, frozen=True):
    """What a valid row is, and how to read its timestamp."""

    min_value: float = Field(0.5, description="smallest valid rating")
    max_value: float = Field(5.0, description="largest valid rating")
    now_ms: int = Field(description="timestamps after this are in the future")
    ts_unit: TsUnit = "s"
    ts_format: str | None = None
    event_type: str | None = Field(None, description="type of rows without a type field")


def _text(raw: pa.Table, name: str, fill: str | None = None) -> pa.Array:
    """Column `name` as strings; a missing column is all `fill` (null when None)."""
    if name in raw.column_names:
        return raw[name].combine_chunks().cast(pa.string())
    return pa.repeat(pa.scalar(fill, pa.string()), raw.num_rows)


def _blank(text: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)


def _finite(values: pa.Array) -> np.ndarray:
    numbers = pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False).astype(np.float64)
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _number(text: pa.Array, blank: np.ndarray) -> np.ndarray:
    """Float64 with NaN for blank, unparsable or infinite text."""
    present = pc.if_else(pa.array(blank), _NO_TEXT, text)
    try:
        return _finite(pc.cast(present, pa.float64()))
    except pa.ArrowInvalid:
        pass
    plain = pc.fill_null(pc.match_substring_regex(present, _PLAIN_NUMBER), False)
    numbers = _finite(pc.cast(pc.if_else(plain, present, _NO_TEXT), pa.float64()))
    odd = np.flatnonzero(~plain.to_numpy(zero_copy_only=False) & ~blank)
    if len(odd):
        texts = present.take(pa.array(odd)).to_pylist()
        parsed = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce")
        numbers[odd] = parsed.astype("float64").to_numpy()
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _numbers(raw: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(blank, value) of a numeric field: given as text, or already parsed by the CSV reader
    (as integers or floats; null when blank)."""
    parsed = name in raw.column_names and (
        pa.types.is_floating(raw[name].type) or pa.types.is_integer(raw[name].type)
    )
    if parsed:
        # Not a safe cast: it refuses integers beyond 2^53, and such a time or value is out of
        # range either way.
        column = pc.cast(raw[name].combine_chunks(), pa.float64(), safe=False)
        return pc.is_null(column).to_numpy(zero_copy_only=False), _finite(column)
    text = _text(raw, name)
    blank = _blank(text)
    return blank, _number(text, blank)


def _timestamp_ms(raw: pa.Table, rules: EventRules) -> tuple[np.ndarray, np.ndarray]:
    """(blank, milliseconds since the epoch as float64, NaN when the time does not parse)."""
    if rules.ts_format is None:
        blank, number = _numbers(raw, "ts")
        return blank, number * _MS_PER_UNIT[rules.ts_unit]
    text = _text(raw, "ts")
    parsed = pd.to_datetime(
        pd.Series(text.to_pylist(), dtype=object), format=rules.ts_format, utc=True, errors="coerce"
    )
    ms = parsed.astype("datetime64[ms, UTC]").astype("int64").astype("float64")
    return _blank(text), ms.where(parsed.notna()).to_numpy()


def _first_reason(checks: list[tuple[str, np.ndarray]], start: pa.Array) -> pa.Array:
    """The first failed check of each row, or null; a reason set while parsing wins."""
    failed = np.logical_or.reduce([mask for _, mask in checks])
    if not failed.any():
        return start
    code = np.zeros(len(start), dtype=np.int8)
    for index in range(len(checks), 0, -1):
        code[checks[index - 1][1]] = index
    names = pa.array([None, *(name for name, _ in checks)], pa.string())
    return pc.coalesce(start, names.take(pa.array(code)))


def _event_types(raw: pa.Table, rules: EventRules) -> pa.DictionaryArray:
    """Each row's event type, trimmed ("" when missing), dictionary-encoded: checks and keys
    then work on the few distinct types instead of on every row's text."""
    if "type" in raw.column_names:
        encoded = pc.dictionary_encode(pc.fill_null(_text(raw, "type"), ""))
    else:
        indices = pa.array(np.zeros(raw.num_rows, dtype=np.int32))
        encoded = pa.DictionaryArray.from_arrays(indices, pa.array([rules.event_type or ""]))
    names = pc.utf8_trim_whitespace(encoded.dictionary)
    return pa.DictionaryArray.from_arrays(encoded.indices, names)


def _per_row(per_type: pa.BooleanArray, kind: pa.DictionaryArray) -> np.ndarray:
    """A check on each distinct type, as a boolean per row."""
    values = per_type.to_numpy(zero_copy_only=False)
    return values[kind.indices.to_numpy(zero_copy_only=False)]


def _column(raw: pa.Table, name: str) -> pa.Array | None:
    return raw[name].combine_chunks() if name in raw.column_names else None


def validate_events(raw: pa.Table, rules: EventRules) -> pa.Table:
    """Check parsed rows (canonical fields as text) and type them.

    `raw` has any of the columns user, item, value, ts, type, tag, event_id plus `reason` (set
    when the line could not be parsed), `line` and `raw`. Numeric fields may come parsed already
    (integers or floats, null when blank). Returns CHECKED; `reason` is null for a good row and
    names the first failed check otherwise; `raw` is kept for bad rows only.
    """
    user = exact_ids(_column(raw, "user"), raw.num_rows)
    item = exact_ids(_column(raw, "item"), raw.num_rows)
    blank_value, value = _numbers(raw, "value")
    blank_ts, ts_ms = _timestamp_ms(raw, rules)
    kind = _event_types(raw, rules)
    names = kind.dictionary
    rating = _per_row(pc.equal(names, "rating"), kind)
    with np.errstate(invalid="ignore"):
        checks = [
            ("missing field", user.blank | item.blank | blank_ts | (rating & blank_value)),
            ("user id not an integer", user.not_integer),
            ("item id not an integer", item.not_integer),
            ("id beyond int64", user.beyond_int64 | item.beyond_int64),
            ("negative id", (user.value < 0) | (item.value < 0)),
            (
                "unknown event type",
                ~_per_row(pc.is_in(names, value_set=pa.array(EVENT_TYPES)), kind),
            ),
            ("rating not a number", rating & np.isnan(value)),
            (
                "rating out of range",
                rating & ((value < rules.min_value) | (value > rules.max_value)),
            ),
            ("value not a number", ~blank_value & np.isnan(value)),
            ("value beyond float32", np.abs(value) > FLOAT32_MAX),
            ("timestamp unparsable", np.isnan(ts_ms)),
            ("timestamp in the future", ts_ms > rules.now_ms),
            ("timestamp before 1900", ts_ms < MIN_TS_MS),
        ]
    reason = _first_reason(checks, _text(raw, REASON))
    storable = np.abs(np.nan_to_num(value, nan=np.inf)) <= FLOAT32_MAX
    # Bad rows' times may lie outside int64 milliseconds: they get 0, never a wrapped value.
    in_range = (ts_ms >= MIN_TS_MS) & (ts_ms <= rules.now_ms)
    ms = np.where(in_range, ts_ms, 0).astype(np.int64)
    user_id, item_id = user.value, item.value
    tag = _text(raw, "tag") if "tag" in raw.column_names else None
    event_id = content_keys(kind, user_id, item_id, ms, tag)
    if "event_id" in raw.column_names:
        given = _text(raw, "event_id")
        event_id = np.where(_blank(given), event_id, text_keys(given))
    bad = pc.is_valid(reason)
    return pa.table(
        {
            "event_id": pa.array(event_id),
            "user_id": pa.array(user_id),
            "item_id": pa.array(item_id),
            "event_type": names.take(kind.indices),
            "value": pa.array(np.where(storable, value, 1.0).astype(np.float32)),
            "ts_ms": pa.array(ms),
            REASON: reason,
            "line": _line_numbers(raw),
            "raw": pc.if_else(bad, _text(raw, "raw"), _NO_TEXT),
        },
        schema=CHECKED,
    )


def _line_numbers(raw: pa.Table) -> pa.Array:
    if "line" not in raw.column_names:
        return pa.nulls(raw.num_rows, pa.int64())
    return raw["line"].combine_chunks().cast(pa.int64())


def month_index(ts_ms: np.ndarray) -> np.ndarray:
    """Months since 1970-01 (UTC) of epoch milliseconds: the lake's partition, as a number.

    Each day of the span is converted once and rows look their day up: numpy's conversion to
    months, row by row, was 5 times slower. A span of more than 200 years (which validation
    never lets through) converts each distinct day instead: a table per day of a span that
    reaches year -3000 took tens of GiB.
    """
    days = np.floor_divide(ts_ms, MS_PER_DAY)
    if not len(days):
        return np.empty(0, np.int32)
    first = days.min()
    if days.max() - first > _DAY_TABLE_SPAN:
        distinct, rows = np.unique(days, return_inverse=True)
        return distinct.astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)[rows]
    span = np.arange(first, days.max() + 1).astype("datetime64[D]")
    return span.astype("datetime64[M]").astype(np.int32)[days - first]


def month_name(index: int) -> str:
    """'YYYY-MM' of a month index: the name of its lake partition."""
    year, month = divmod(int(index), 12)
    return f"{1970 + year:04d}-{month + 1:02d}"


def to_events(checked: pa.Table) -> pa.Table:
    """The good rows of a checked table in the STAGED layout (EVENTS less `source`, plus month)."""
    reasons = checked[REASON]
    # A filter copies every column even when it keeps every row, as it nearly always does.
    valid = checked if reasons.null_count == len(reasons) else checked.filter(pc.is_null(reasons))
    ts = valid["ts_ms"].cast(pa.timestamp("ms", tz="UTC"))
    return pa.table(
        {
            "event_id": valid["event_id"],
            "user_id": valid["user_id"],
            "item_id": valid["item_id"],
            "event_type": valid["event_type"],
            "value": valid["value"],
            "ts": ts,
            MONTH: month_index(valid["ts_ms"].to_numpy()),
        },
        schema=STAGED,
    )
