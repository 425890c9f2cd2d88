from __future__ import annotations

import pandas as pd

from ingest.movielens import parse_year
from ingest.validate import REASON, RatingRules, to_events, validate_ratings

NOW_MS = 1_700_000_000_000


def _raw(rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


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
        ]
    )
    checked = validate_ratings(raw, RatingRules(now_ms=NOW_MS))
    assert checked[REASON].tolist() == [
        None,
        "user id not an integer",
        "negative id",
        "rating out of range",
        "timestamp in the future",
        "missing field",
        "user id not an integer",
    ]
    assert checked["raw"].iloc[3] == "1,10,7,964982703"


def test_events_get_content_ids_and_month_partitions() -> None:
    checked = validate_ratings(_raw([("1", "10", "4.5", "964982703")]), RatingRules(now_ms=NOW_MS))
    events = to_events(checked, "rating", "ratings.csv")
    row = events.iloc[0]
    assert row["event_id"] == "rating:1:10:964982703000"
    assert row["month"] == "2000-07"
    assert row["value"] == 4.5
    assert str(row["ts"]) == "2000-07-30 18:45:03+00:00"


def test_year_comes_from_the_end_of_the_title() -> None:
    assert parse_year("Heat (1995)") == 1995
    assert parse_year("Babylon 5 (1994-1998)") == 1994
    assert parse_year("Untitled") is None
