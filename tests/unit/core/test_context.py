"""Context features of a moment, and the live profile's last rating time they measure from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from core.context import context_columns, now_ms
from core.events import LoggedEvent
from core.online_store import UserProfile, add_rating
from core.tables import CONTEXT

T = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # a Monday evening


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_hour_and_day_are_those_of_the_utc_moment() -> None:
    moments = [T + timedelta(hours=h) for h in range(0, 24 * 9, 5)]
    moments += [datetime(1995, 1, 9, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]
    columns = context_columns(np.array([_ms(m) for m in moments]), pa.nulls(len(moments)))
    assert set(columns) == set(CONTEXT.names)
    assert columns["hour_of_day"].to_pylist() == [m.hour for m in moments]
    assert columns["day_of_week"].to_pylist() == [m.weekday() for m in moments]
    assert columns["day_of_week"].to_pylist()[0] == 0


def test_seconds_since_the_last_rating_null_without_one_never_negative() -> None:
    last = pa.array([_ms(T) - 90_000, None, _ms(T) + 5_000], pa.int64())
    columns = context_columns(np.full(3, _ms(T)), last)
    assert columns["seconds_since_last_event"].to_pylist() == [90.0, None, 0.0]


def test_now_is_the_utc_clock_in_ms() -> None:
    assert abs(now_ms() - _ms(datetime.now(UTC))) < 5_000


def _rating(ts: datetime, value: float = 4.0) -> LoggedEvent:
    return LoggedEvent(
        event_id="e", user_id=7, item_id=40, event_type="rating", value=value, ts=ts, source="api"
    )


def test_a_live_rating_advances_the_profiles_last_time_and_an_older_one_does_not() -> None:
    profile = UserProfile(user_id=7)
    for moment, value in [(T, 4.0), (T + timedelta(minutes=3), 1.0)]:
        add_rating(profile, _rating(moment, value), value, label_threshold=3.5, recent_limit=5)
        assert profile.user_last_ts == _ms(moment)
    later = T + timedelta(minutes=3)
    add_rating(profile, _rating(T - timedelta(days=1)), 4.0, label_threshold=3.5, recent_limit=5)
    assert profile.user_last_ts == _ms(later)
    assert profile.user_rating_count == 3


def test_a_profile_without_the_field_reads_as_never_rated() -> None:
    """Profiles published before the field existed still load."""
    old = UserProfile.model_validate_json('{"user_id": 3, "user_rating_count": 2}')
    assert old.user_last_ts is None
