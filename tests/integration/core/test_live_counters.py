"""Live item counts against a real Redis: a burst shows at once, old minutes leave the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from core.data_settings import DataSettings
from core.events import LoggedEvent, impressions
from core.live_counters import LiveCounters
from core.online_store import OnlineStore
from tests.support.redis_keys import cleared

pytestmark = pytest.mark.integration

T = datetime(2026, 12, 6, tzinfo=UTC)
COLD_ITEM = 424_242


def _clicks(item: int, users: range) -> list[LoggedEvent]:
    return [
        LoggedEvent(
            event_id=f"burst-{item}-{u}",
            user_id=u,
            item_id=item,
            event_type="click",
            value=1.0,
            ts=T + timedelta(milliseconds=u),
            source="api",
        )
        for u in users
    ]


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return cleared(redis_url, "items:live:*")


def test_a_burst_on_a_cold_item_tops_trending_at_once(client: redis.Redis, redis_url) -> None:
    store = OnlineStore(redis_url)
    store.record_events(_clicks(7, range(5)), DataSettings(), 10)
    assert store.trending(5) == [(7, 5.0)]
    # 50 clicks within a second, through the same transaction as the users' state.
    store.record_events(_clicks(COLD_ITEM, range(100, 150)), DataSettings(), 10)
    # The first store read its counts just now and keeps them a second; another replica's
    # store sees the burst on its first read.
    assert OnlineStore(redis_url).trending(2) == [(COLD_ITEM, 50.0), (7, 5.0)]
    assert OnlineStore(redis_url).live.counts("24h")[COLD_ITEM] == 50.0
    # Impressions are not engagement: they count for nothing.
    store.append_events(impressions("r1", 1, [COLD_ITEM, 7], {}, T))
    assert OnlineStore(redis_url).trending(2) == [(COLD_ITEM, 50.0), (7, 5.0)]


def test_the_hour_keeps_the_last_sixty_minutes_and_the_day_its_hours(client: redis.Redis) -> None:
    now = [1_800_000_000.0]
    counters = LiveCounters(client, max_age_s=0.0, clock=lambda: now[0])

    def count(item: int, n: int) -> None:
        pipe = client.pipeline(transaction=True)
        for event in _clicks(item, range(n)):
            counters.add(pipe, event)
        pipe.execute()

    count(1, 3)
    now[0] += 30 * 60
    count(2, 2)
    assert counters.top(5) == [(1, 3.0), (2, 2.0)]
    now[0] += 31 * 60  # item 1's minute is now 61 minutes old
    assert counters.top(5) == [(2, 2.0)]
    assert counters.counts("24h") == {1: 3.0, 2: 2.0}
    now[0] += 26 * 3600
    assert counters.counts("24h") == {} and counters.top(5) == []
