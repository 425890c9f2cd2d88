"""Impressions are queued by requests and written in batches, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

import pytest

from cluster.app.impression_log import ImpressionLog
from core.events import LoggedEvent, impressions


class Sink:
    """Records every write and the thread it came from; fails while `broken` is set."""

    def __init__(self) -> None:
        self.writes: list[list[LoggedEvent]] = []
        self.threads: set[int] = set()
        self.broken = False

    def append_events(self, events: list[LoggedEvent]) -> list[str]:
        if self.broken:
            raise ConnectionError("redis is down")
        self.writes.append(events)
        self.threads.add(threading.get_ident())
        return [str(n) for n in range(len(events))]


def _shown(request: str, items: list[int]) -> list[LoggedEvent]:
    return impressions(request, 7, items, {"exp": "a"}, datetime(2026, 1, 1, tzinfo=UTC))


def test_requests_within_the_linger_share_one_write_made_off_the_event_loop() -> None:
    sink = Sink()

    async def serve_requests() -> None:
        log = ImpressionLog(sink, linger_s=0.05)
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
        log = ImpressionLog(sink, linger_s=0.0)
        sink.broken = True
        log.add(_shown("r1", [1]))
        await log.drain()
        sink.broken = False
        log.add(_shown("r2", [2]))
        await log.drain()

    with caplog.at_level(logging.ERROR):
        asyncio.run(serve_requests())
    assert "1 impressions not logged" in caplog.text
    assert [[e.item_id for e in write] for write in sink.writes] == [[2]]


def test_close_writes_what_is_still_queued() -> None:
    sink = Sink()

    async def queue_then_close() -> None:
        log = ImpressionLog(sink, linger_s=60.0)
        log.add(_shown("r1", [5, 6]))
        log.close()

    asyncio.run(queue_then_close())
    assert [[e.item_id for e in write] for write in sink.writes] == [[5, 6]]
