"""Impressions go to the event stream off the request path, many requests to a round trip."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Literal, Protocol

import redis

from core.events import LoggedEvent

log = logging.getLogger(__name__)

# How long the first impression waits for others: long enough that requests under load share
# a round trip, short against the seconds before `starling events consume` reads them.
LINGER_S = 0.05
# Beyond this many waiting impressions new ones are dropped (and counted): a hung Redis must
# not grow the Gateway's memory without bound. ~20 MB, seconds of traffic at full load.
MAX_QUEUED = 20_000

DropReason = Literal["queue_full", "redis_error", "error"]
DROP_REASONS: tuple[DropReason, ...] = ("queue_full", "redis_error", "error")


class EventSink(Protocol):
    """Where impressions go (core.online_store.OnlineStore in production)."""

    def append_events(self, events: list[LoggedEvent]) -> list[str]: ...


class ImpressionLog:
    """Impressions wait in memory and go out in one pipeline per flush, in a worker thread.

    A request only queues its impressions: a Redis round trip on the Gateway's event loop
    stalls every request in flight there, and under CPU contention one took milliseconds.
    A replica that dies loses what is queued, at most `LINGER_S` of impressions; `close` writes
    them when the replica is stopped. A lost impression costs the A/B report a row; every one
    dropped here is passed to `on_dropped` with the reason, so that the loss shows in metrics.
    """

    def __init__(
        self,
        sink: EventSink,
        on_dropped: Callable[[int, DropReason], None],
        linger_s: float = LINGER_S,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._sink = sink
        self._on_dropped = on_dropped
        self._linger_s = linger_s
        self._max_queued = max_queued
        self._queued: list[LoggedEvent] = []
        self._flushing: asyncio.Task[None] | None = None

    def add(self, events: list[LoggedEvent]) -> None:
        """Queue these events; needs a running event loop (the replica's)."""
        room = max(self._max_queued - len(self._queued), 0)
        if len(events) > room:
            self._on_dropped(len(events) - room, "queue_full")
            events = events[:room]
        self._queued.extend(events)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(self._linger_s)
        while self._queued:
            batch, self._queued = self._queued, []
            await asyncio.to_thread(self._write, batch)

    async def drain(self) -> None:
        """Wait until everything queued so far is written (or its failure logged)."""
        while self._flushing is not None and not self._flushing.done():
            await self._flushing

    def close(self) -> None:
        """Write what is still queued, blocking the caller: for the replica's stop, after
        `drain`, when no request is left to stall."""
        batch, self._queued = self._queued, []
        if batch:
            self._write(batch)

    def _write(self, batch: list[LoggedEvent]) -> None:
        # A lost impression costs the A/B report a row; a failed request would cost a user.
        try:
            self._sink.append_events(batch)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            # Redis down: a line per flush, not a traceback every LINGER_S.
            log.warning("%d impressions not logged: %s", len(batch), error)
            self._on_dropped(len(batch), "redis_error")
        except Exception:
            log.exception("%d impressions not logged", len(batch))
            self._on_dropped(len(batch), "error")
