from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from core.event_key import content_keys, text_key
from ingest.lake.movielens import parse_year
from ingest.lake.validate import REASON, EventRules, month_name, to_events
from ingest.lake.validate import validate_events as validate_table


def validate_events(raw: pd.DataFrame, rules: EventRules) -> pd.DataFrame:
    checked = validate_table(pa.Table.from_pandas(raw, preserve_index=False), rules).to_pandas()
    return checked.astype(object).where(checked.notna(), None)


NOW_MS = 1_700_000_000_000
RULES = EventRules(now_ms=NOW_MS, event_type="rating")


def _raw(rows: list[tuple[str | None, ...]], columns: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns or ("user", "item", "value", "ts")))
    frame[REASON] = None
    frame["line"] = range(2, len(frame) + 2)
    frame["raw"] = [",".join(str(v) for v in row) for row in rows]
    return frame


def test_each_bad_row_gets_its_reason_and_good_rows_pass() -> None:
    raw = _raw(
        [
            ("1", "10", "4.0", "964982703"),
            ("x", "10", "4.0", "964982703"),
            ("1", "-3", "4.0", "964982703"),
            ("1", "10", "7", "964982703"),
            ("1", "10", "4.0", "99999999999"),
            ("1", "10", None, "964982703"),
            ("1.5", "10", "4.0", "964982703"),
            ("1", "10", "4.0", "yesterday"),
        ]
    )
    raw.loc[1, REASON] = "malformed line: 3 fields, expected 4"
    checked = validate_events(raw, RULES)
    assert checked[REASON].tolist() == [
        None,
        "malformed line: 3 fields, expected 4",
        "negative id",
        "rating out of range",
        "timestamp in the future",
        "missing field",
        "user id not an integer",
        "timestamp unparsable",
    ]
    assert checked["raw"].iloc[3] == "1,10,7,964982703"
    assert pd.isna(checked["raw"].iloc[0])
    assert checked["line"].tolist() == list(range(2, 10))


def test_rating_range_is_configurable() -> None:
    raw = _raw([("1", "10", "7", "964982703"), ("1", "10", "0", "964982703")])
    wide = EventRules(now_ms=NOW_MS, event_type="rating", min_value=1, max_value=10)
    assert validate_events(raw, wide)[REASON].tolist() == [None, "rating out of range"]


def test_event_types_outside_the_contract_are_quarantined() -> None:
    raw = _raw(
        [("1", "10", "964982703", "click"), ("1", "10", "964982703", "purchase")],
        columns=("user", "item", "ts", "type"),
    )
    checked = validate_events(raw, EventRules(now_ms=NOW_MS))
    assert checked[REASON].tolist() == [None, "unknown event type"]
    assert checked["value"].iloc[0] == 1.0


def _content_key(kind: str, user: int, item: int, ts_ms: int) -> int:
    one = [np.array([v]) for v in (user, item, ts_ms)]
    return int(content_keys(pa.array([kind]), *one)[0])


def test_events_get_content_ids_and_month_partitions() -> None:
    raw = pa.Table.from_pandas(_raw([("1", "10", "4.5", "964982703")]), preserve_index=False)
    events = to_events(validate_table(raw, RULES)).to_pandas()
    row = events.iloc[0]
    assert row["event_id"] == _content_key("rating", 1, 10, 964982703000)
    assert month_name(row["month_index"]) == "2000-07"
    assert row["value"] == 4.5
    assert str(row["ts"]) == "2000-07-30 18:45:03+00:00"


def test_tags_of_one_moment_get_distinct_ids() -> None:
    raw = _raw(
        [("1", "10", "funny", "964982703"), ("1", "10", "dark", "964982703")],
        columns=("user", "item", "tag", "ts"),
    )
    checked = validate_events(raw, EventRules(now_ms=NOW_MS, event_type="tag"))
    ids = checked["event_id"].tolist()
    assert checked[REASON].isna().all() and len(set(ids)) == 2


def test_given_event_ids_win_and_text_timestamps_parse() -> None:
    raw = _raw(
        [("e1", "1", "10", "2024-01-02 03:04:05"), ("", "1", "11", "2024-01-02 03:04:06")],
        columns=("event_id", "user", "item", "ts"),
    )
    rules = EventRules(now_ms=NOW_MS * 2, event_type="view", ts_format="%Y-%m-%d %H:%M:%S")
    checked = validate_events(raw, rules)
    assert checked["event_id"].tolist() == [
        text_key("e1"),
        _content_key("view", 1, 11, 1704164646000),
    ]
    assert checked["ts_ms"].iloc[0] == 1704164645000


def test_millisecond_timestamps() -> None:
    raw = _raw([("1", "10", "4", "964982703123")])
    checked = validate_events(raw, RULES.model_copy(update={"ts_unit": "ms"}))
    assert checked["ts_ms"].iloc[0] == 964982703123


def test_year_comes_from_the_end_of_the_title() -> None:
    assert parse_year("Heat (1995)") == 1995
    assert parse_year("Babylon 5 (1994-1998)") == 1994
    assert parse_year("Untitled") is None
