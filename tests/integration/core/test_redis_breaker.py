"""A serving replica's online store against a real redis-server that hangs (SIGSTOP) and wakes
(SIGCONT): it waits one short timeout, then fails at once, then finds Redis back by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from core.online_store import OnlineStore, UserProfile
from core.redis_breaker import RedisDown, serving_store
from core.settings import Settings
from tests.integration.conftest import free_port
from tests.support.paused_redis import paused, redis_server

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.3
PROBE_S = 0.2


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    with redis_server(tmp_path, port) as process:
        yield port, process.pid


def _store(port: int) -> OnlineStore:
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{port}/0",
        redis_serving_timeout_s=TIMEOUT_S,
        redis_probe_interval_s=PROBE_S,
    )
    return serving_store(settings)


def _timed_failure(store: OnlineStore) -> tuple[type[Exception], float]:
    started = time.perf_counter()
    with pytest.raises(redis.RedisError) as failure:
        store.profile(7)
    return failure.type, time.perf_counter() - started


def test_a_hung_redis_costs_one_short_timeout_then_nothing(server: tuple[int, int]) -> None:
    port, pid = server
    store = _store(port)
    store.publish_users([UserProfile(user_id=7, user_rating_count=3)], {})
    with paused(pid):
        kind, first = _timed_failure(store)
        assert kind is not RedisDown
        # redis-py's defaults (5 s, ten retries) would hold this call for most of a minute.
        assert first < TIMEOUT_S + 0.5
        for _ in range(20):
            kind, later = _timed_failure(store)
            assert kind is RedisDown
            assert later < 0.05
    deadline = time.monotonic() + 5
    while True:
        try:
            profile = store.profile(7)
            break
        except RedisDown:
            assert time.monotonic() < deadline, "Redis back, the store still refuses"
            time.sleep(0.05)
    assert profile is not None and profile.user_rating_count == 3


def test_a_stopped_redis_fails_fast_and_a_restarted_one_is_found(tmp_path: Path) -> None:
    port = free_port()
    with redis_server(tmp_path, port):
        store = _store(port)
        store.publish_users([UserProfile(user_id=7, user_rating_count=3)], {})
        assert store.profile(7) is not None
    _, refused = _timed_failure(store)
    assert refused < TIMEOUT_S + 0.5
    assert _timed_failure(store)[0] is RedisDown
    # A new server on the same port: the store finds it by itself.
    with redis_server(tmp_path, port):
        deadline = time.monotonic() + 5
        while True:
            try:
                assert store.profile(7) is None
                break
            except RedisDown:
                assert time.monotonic() < deadline
                time.sleep(0.05)
