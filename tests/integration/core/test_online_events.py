"""Live events against a real Redis: the stream and the user's online state move together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.data_settings import DataSettings
from core.events import LoggedEvent, impressions
from core.online_store import OnlineStore, UserProfile, UserState

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 23, tzinfo=UTC)


def _event(n: int, user: int, item: int, kind: str, value: float = 1.0) -> LoggedEvent:
    """Event n happens n seconds after T."""
    return LoggedEvent(
        event_id=f"e{n}",
        user_id=user,
        item_id=item,
        event_type=kind,
        value=value,
        ts=T + timedelta(seconds=n),
        source="api",
    )


def test_feedback_updates_seen_items_and_recent_positives(redis_url: str) -> None:
    store = OnlineStore(redis_url)
    published = {7: [(1, 1_000), (2, 3_000), (3, 2_000)]}
    store.publish_users([UserProfile(user_id=7, user_recent_items=[1, 2, 3])], published)
    before = store.stream.length()
    entries = store.record_events(
        [
            _event(1, 7, 40, "rating", 5.0),
            _event(2, 7, 41, "rating", 2.0),
            _event(3, 7, 42, "click"),
            _event(4, 7, 43, "view"),
            _event(5, 8, 50, "rating", 4.0),
        ],
        DataSettings(),
        recent_limit=3,
    )
    assert len(entries) == 5 and store.stream.length() == before + 5
    assert store.seen(7) == {1, 2, 3, 40, 41, 42, 43}
    # The history that makes the item bag's user vector reads newest first.
    assert store.history(7) == [43, 42, 41, 40, 2, 3, 1]
    profile = store.profile(7)
    # A click and a view stand for ratings of 4.0: positives, so they lead the recent items.
    assert profile is not None and profile.user_recent_items == [43, 42, 40]
    assert profile.user_rating_count == 4 and profile.user_avg_rating == pytest.approx(3.75)
    assert profile.user_last_ts == int(T.timestamp() * 1000) + 4000
    newcomer = store.profile(8)
    assert newcomer is not None and newcomer.user_recent_items == [50]
    assert store.seen(8) == {50}


def test_a_click_counts_once_per_item_and_not_on_an_item_the_user_touched(
    redis_url: str,
) -> None:
    store = OnlineStore(redis_url)
    store.publish_users([UserProfile(user_id=12, user_rating_count=1)], {12: [(1, 1_000)]})
    store.record_events(
        [_event(20, 12, 1, "click"), _event(21, 12, 60, "click"), _event(22, 12, 60, "view")],
        DataSettings(),
        recent_limit=3,
    )
    store.record_events([_event(23, 12, 60, "click")], DataSettings(), recent_limit=3)
    profile = store.profile(12)
    # Item 1 was seen before and item 60 counts at its first click only, as the lake counts.
    assert profile is not None and profile.user_rating_count == 2
    assert profile.user_recent_items == [60]
    store.record_events([_event(24, 12, 60, "rating", 1.0)], DataSettings(), recent_limit=3)
    assert store.profile(12).user_rating_count == 3


def test_recall_reads_a_users_state_as_the_single_reads_see_it(redis_url: str) -> None:
    store = OnlineStore(redis_url)
    store.publish_users(
        [UserProfile(user_id=21, user_recent_items=[4, 5])], {21: [(4, 3), (5, 2), (6, 1)]}
    )
    store.set_snapshot("features-abc")
    state = store.user_state(21)
    assert state == UserState(profile=store.profile(21), history=[4, 5, 6], snapshot="features-abc")
    stranger = store.user_state(22)
    assert stranger.profile is None and stranger.seen == set()


def test_impressions_reach_the_stream_and_touch_no_state(redis_url: str) -> None:
    store = OnlineStore(redis_url)
    before = store.stream.length()
    store.append_events(impressions("req1", 9, [5, 6, 7], {"exp": "a"}, T))
    assert store.stream.length() == before + 3
    assert store.seen(9) == set() and store.profile(9) is None


def test_a_features_publish_keeps_what_live_events_wrote_since_the_lake_was_read(
    redis_url: str,
) -> None:
    store = OnlineStore(redis_url)
    built = UserProfile(
        user_id=31, user_rating_count=2, user_avg_rating=4.0, user_recent_items=[1, 2]
    )
    store.publish_users([built], {31: [(1, 1_000), (2, 2_000)]})
    store.record_events(
        [_event(10, 31, 40, "rating", 5.0), _event(11, 31, 41, "click")],
        DataSettings(),
        recent_limit=3,
    )
    # A features build that read the lake before those events lands: nothing they did is lost.
    store.publish_users([built], {31: [(1, 1_000), (2, 2_000)]})
    assert store.seen(31) == {1, 2, 40, 41}
    assert store.history(31)[:2] == [41, 40]
    profile = store.profile(31)
    # The click stands for a rating of 4.0.
    assert profile is not None and profile.user_rating_count == 4
    assert profile.user_avg_rating == pytest.approx(17 / 4)
    assert profile.user_recent_items == [41, 40, 1]
    # The next build has read them from the lake: its profile is the one kept.
    newer = built.model_copy(update={"user_rating_count": 4, "user_rating_stddev": 0.5})
    store.publish_users([newer], {31: [(1, 1_000), (2, 2_000), (40, 5_000), (41, 6_000)]})
    assert store.profile(31) == newer
    assert store.seen(31) == {1, 2, 40, 41}


def test_a_retried_batch_of_client_named_events_is_recorded_once(redis_url: str) -> None:
    store = OnlineStore(redis_url)
    user = 71

    def batch() -> list[LoggedEvent]:
        events = [_event(n, user, 700 + n, "rating", 4.5) for n in range(3)]
        # The second names itself twice in one batch: once.
        events.insert(2, events[1])
        return [
            e.model_copy(update={"event_id": f"c-{e.item_id}", "client_named": True})
            for e in events
        ]

    stream_before = store.stream.length()
    first = store.record_events(batch(), DataSettings(), recent_limit=5)
    assert [e.item_id for e in first] == [700, 701, 702]
    again = store.record_events(batch(), DataSettings(), recent_limit=5)
    assert again == []
    assert store.stream.length() == stream_before + 3
    profile = store.profile(user)
    assert profile is not None and profile.user_rating_count == 3
    # Unnamed events are all recorded: their ids are fresh each time.
    unnamed = [_event(9, user, 709, "rating", 4.0)]
    assert len(store.record_events(unnamed, DataSettings(), 5)) == 1
    assert len(store.record_events(unnamed, DataSettings(), 5)) == 1
