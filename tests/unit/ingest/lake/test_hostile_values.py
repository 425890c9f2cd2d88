"""Ids, times and values outside what the lake can hold are quarantined with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.lake.chunks import plan_file
from ingest.lake.parse_chunk import check_pieces
from ingest.lake.sources.event_log import EventLogOptions, plan_event_log
from ingest.lake.validate import REASON, EventRules, month_index, month_name, validate_events

NOW_MS = 1_700_000_000_000
RULES = EventRules(now_ms=NOW_MS, event_type="click")
GOOD_TS = "964982703"


def _check(rows: list[dict[str, str]]) -> list[tuple[str | None, int, int]]:
    columns = {name: [row.get(name, "") for row in rows] for name in ("user", "item", "ts")}
    columns |= {"value": [row.get("value", "") for row in rows]}
    raw = pa.table(columns | {REASON: pa.nulls(len(rows), pa.string())})
    checked = validate_events(raw, RULES)
    return list(
        zip(
            checked[REASON].to_pylist(),
            checked["user_id"].to_pylist(),
            checked["item_id"].to_pylist(),
            strict=True,
        )
    )


def test_ids_are_exact_int64_or_quarantined() -> None:
    ids = {
        str(2**53 + 1): (None, 2**53 + 1),  # float64 would make it 2^53
        "9223372036854775807": (None, 2**63 - 1),
        "0009223372036854775807": (None, 2**63 - 1),
        "12.000": (None, 12),
        "1e3": (None, 1000),
        " 7 ": (None, 7),
        "9223372036854775808": ("id beyond int64", 0),
        "99999999999999999999": ("id beyond int64", 0),  # wrapped to INT64_MIN before
        "1e999999999": ("id beyond int64", 0),
        "-9223372036854775809": ("id beyond int64", 0),
        "-5": ("negative id", -5),
        "1.5": ("user id not an integer", 0),
        "1_000": ("user id not an integer", 0),
        "nan": ("user id not an integer", 0),
        "inf": ("user id not an integer", 0),
        "0x10": ("user id not an integer", 0),
    }
    checked = _check([{"user": text, "item": "3", "ts": GOOD_TS} for text in ids])
    expected = [(reason, reason or user) for reason, user in ids.values()]
    assert [(reason, reason or user) for reason, user, _ in checked] == expected


def test_times_outside_1900_to_now_are_quarantined() -> None:
    times = {
        "-1e14": "timestamp before 1900",  # grew a Ray worker past 16 GiB before
        "-2208988801": "timestamp before 1900",
        "-2208988800": None,  # 1900-01-01 itself
        "1e14": "timestamp in the future",
        "99999999999999999999": "timestamp in the future",
        "1e400": "timestamp unparsable",
        "-inf": "timestamp unparsable",
    }
    checked = _check([{"user": "1", "item": "2", "ts": text} for text in times])
    assert [reason for reason, _, _ in checked] == list(times.values())


def test_values_beyond_float32_or_not_finite_are_quarantined() -> None:
    values = {"1e39": "value beyond float32", "-1e39": "value beyond float32", "3e38": None}
    values |= {"inf": "value not a number", "nan": "value not a number", "": None}
    rows = [{"user": "1", "item": "2", "ts": GOOD_TS, "value": v} for v in values]
    assert [reason for reason, _, _ in _check(rows)] == list(values.values())


def test_month_index_of_times_millennia_apart_allocates_nothing_per_day() -> None:
    # The span's day table would be 10^11 days (800 GB); the distinct days are two.
    far = np.array([-(10**17), 0, 10**17 // 2, 0], dtype=np.int64)
    months = month_index(far)
    assert months[1] == months[3] == 0
    assert month_name(int(month_index(np.array([1_700_000_000_000]))[0])) == "2023-11"


def test_fast_path_integers_beyond_the_ranges(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "user,item,ts\n"
        "1,2,964982703\n"
        "1,2,-100000000000000\n"  # -1e14 s, read by Arrow's CSV reader as int64
        "9223372036854775807,2,964982703\n"
        "1,2,9223372036854775807\n"
    )
    pieces = [
        p
        for c in plan_file(plan_event_log(log, EventLogOptions())).chunks
        for p in check_pieces(c, RULES)
    ]
    rows = pa.concat_tables(p.rows for p in pieces)
    assert rows[REASON].to_pylist() == [
        None,
        "timestamp before 1900",
        None,
        "timestamp in the future",
    ]
    assert rows["user_id"][2].as_py() == 2**63 - 1


def test_parquet_ids_times_and_values_at_the_edges(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    stamps = [964982703123, -30_000_000_000_000, 1_600_000_000_000]  # ms; year 1019; fine
    table = pa.table(
        {
            "user": pa.array([1, 2**63 + 5, 3], pa.uint64()),
            "item": [4, 5, 2**53 + 1],
            "ts": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
            "value": [1.0, 2.0, 1e39],
            "type": ["click", "click", "click"],
        }
    )
    pq.write_table(table, path)
    options = EventLogOptions(mapping={"value": "value", "type": "type"})
    (chunk,) = plan_file(plan_event_log(path, options)).chunks
    (piece,) = check_pieces(chunk, RULES)
    assert piece.rows[REASON].to_pylist() == [None, "id beyond int64", "value beyond float32"]
    # A fraction of a second no longer makes the cast to seconds refuse the whole file.
    assert piece.rows["ts_ms"][0].as_py() == 964982703123
