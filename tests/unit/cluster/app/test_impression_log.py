"""Impressions are queued by requests and written in batches, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

import pytest
import redis

from cluster.app.impression_log import ImpressionLog
from cluster.app.metrics import GatewayMetrics
from core.events import LoggedEvent, impressions


class Sink:
    """Records every write and the thread it came from; fails while `broken` is set."""

    def __init__(self) -> None:
        self.writes: list[list[LoggedEvent]] = []
        self.threads: set[int] = set()
        self.broken: Exception | None = None

    def append_events(self, events: list[LoggedEvent]) -> list[str]:
        if self.broken is not None:
            raise self.broken
        self.writes.append(events)
        self.threads.add(threading.get_ident())
        return [str(n) for n in range(len(events))]


def _ignore_drops(_count: int, _reason: str) -> None:
    pass


def _dropped(metrics: GatewayMetrics, reason: str) -> float:
    value = metrics.local.registry.get_sample_value(
        "starling_impressions_dropped_total", {"reason": reason}
    )
    assert value is not None
    return value


def _shown(request: str, items: list[int]) -> list[LoggedEvent]:
    return impressions(request, 7, items, {"exp": "a"}, datetime(2026, 1, 1, tzinfo=UTC))


def test_requests_within_the_linger_share_one_write_made_off_the_event_loop() -> None:
    sink = Sink()

    async def serve_requests() -> None:
        log = ImpressionLog(sink, _ignore_drops, linger_s=0.05)
        log.add(_shown("r1", [1, 2]))
        await asyncio.sleep(0.01)
        log.add(_shown("r2", [3]))
        assert sink.writes == []
        await log.drain()
        log.add(_shown("r3", [4]))
        await log.drain()

    asyncio.run(serve_requests())
    assert [[e.item_id for e in write] for write in sink.writes] == [[1, 2, 3], [4]]
    assert threading.get_ident() not in sink.threads


def test_a_failed_write_is_logged_and_later_impressions_still_land(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()

    async def serve_requests() -> None:
        log = ImpressionLog(sink, _ignore_drops, linger_s=0.0)
        sink.broken = RuntimeError("bad reply")
        log.add(_shown("r1", [1]))
        await log.drain()
        sink.broken = None
        log.add(_shown("r2", [2]))
        await log.drain()

    with caplog.at_level(logging.ERROR):
        asyncio.run(serve_requests())
    assert "1 impressions not logged" in caplog.text
    assert [[e.item_id for e in write] for write in sink.writes] == [[2]]


def test_close_writes_what_is_still_queued() -> None:
    sink = Sink()

    async def queue_then_close() -> None:
        log = ImpressionLog(sink, _ignore_drops, linger_s=60.0)
        log.add(_shown("r1", [5, 6]))
        log.close()

    asyncio.run(queue_then_close())
    assert [[e.item_id for e in write] for write in sink.writes] == [[5, 6]]


def test_impressions_lost_to_a_redis_error_or_another_failure_are_counted_in_the_metrics() -> None:
    sink, metrics = Sink(), GatewayMetrics()

    async def serve_requests() -> None:
        log = ImpressionLog(sink, metrics.impressions_lost, linger_s=0.0)
        sink.broken = redis.ConnectionError("connection refused")
        log.add(_shown("r1", [1, 2, 3]))
        await log.drain()
        sink.broken = RuntimeError("bad reply")
        log.add(_shown("r2", [4]))
        await log.drain()

    asyncio.run(serve_requests())
    assert _dropped(metrics, "redis_error") == 3
    assert _dropped(metrics, "error") == 1
    assert b'starling_impressions_dropped_total{reason="queue_full"} 0.0' in metrics.render()


def test_impressions_beyond_the_queue_cap_are_dropped_and_counted() -> None:
    sink, metrics = Sink(), GatewayMetrics()

    async def flood() -> None:
        log = ImpressionLog(sink, metrics.impressions_lost, linger_s=60.0, max_queued=4)
        log.add(_shown("r1", [1, 2, 3]))
        log.add(_shown("r2", [4, 5, 6]))
        log.add(_shown("r3", [7]))
        log.close()

    asyncio.run(flood())
    assert [[e.item_id for e in write] for write in sink.writes] == [[1, 2, 3, 4]]
    assert _dropped(metrics, "queue_full") == 3
