"""Per-item event counts in Redis, bucketed by the minute and by the hour of arrival: what was
watched in the last hour and day, as of the last event, for the trending route, the catalogue's
popularity and trending orders.

Every rating, click and view adds 1 to its item in the current minute's and hour's sorted set,
in the transaction that records the event; minute sets expire after two hours, hour sets after
two days. A window's counts are the union of its buckets (ZUNION, Redis 6.2), cached per
process for `max_age_s`, so a request pays for at most one union a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import redis

from core.events import LoggedEvent

Window = Literal["1h", "24h"]
COUNTED_EVENTS = ("rating", "click", "view")
_MINUTE_KEY = "items:live:m:{bucket}"
_HOUR_KEY = "items:live:h:{bucket}"
_MINUTE_TTL_S = 2 * 3600
_HOUR_TTL_S = 2 * 86400


class LiveCounters:
    """The live counts on one Redis client; `clock` gives epoch seconds (tests move it)."""

    def __init__(
        self,
        client: redis.Redis,
        max_age_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.max_age_s = max_age_s
        self.clock = clock
        # Per window: when read, the counts, and the items most counted first.
        self._cached: dict[Window, tuple[float, dict[int, float], list[tuple[int, float]]]] = {}

    def add(self, pipe: redis.client.Pipeline, event: LoggedEvent) -> None:
        """Queue the event's counts on `pipe` (nothing for impressions)."""
        if event.event_type not in COUNTED_EVENTS:
            return
        minute = int(self.clock() // 60)
        for key, ttl in (
            (_MINUTE_KEY.format(bucket=minute), _MINUTE_TTL_S),
            (_HOUR_KEY.format(bucket=minute // 60), _HOUR_TTL_S),
        ):
            pipe.zincrby(key, 1, str(event.item_id))
            pipe.expire(key, ttl)

    def counts(self, window: Window) -> dict[int, float]:
        """Every item counted in the window (the last 60 minutes, or the last 24 whole hours
        and this one), with its count."""
        return self._read(window)[1]

    def top(self, n: int, window: Window = "1h") -> list[tuple[int, float]]:
        """The n items counted most in the window, most first (ties by item id); ranked once
        per read, not per request."""
        return self._read(window)[2][:n]

    def _read(self, window: Window) -> tuple[float, dict[int, float], list[tuple[int, float]]]:
        now = self.clock()
        cached = self._cached.get(window)
        if cached is not None and now - cached[0] < self.max_age_s:
            return cached
        minute = int(now // 60)
        if window == "1h":
            keys = [_MINUTE_KEY.format(bucket=m) for m in range(minute - 59, minute + 1)]
        else:
            hour = minute // 60
            keys = [_HOUR_KEY.format(bucket=h) for h in range(hour - 24, hour + 1)]
        rows = self.client.zunion(keys, withscores=True)
        found = {int(item): float(score) for item, score in rows}
        ranked = sorted(found.items(), key=lambda pair: (-pair[1], pair[0]))
        self._cached[window] = (now, found, ranked)
        return self._cached[window]
