"""The recent /recommend rate and latency of one Gateway replica, second by second, for the ops
page's chart (Ray's metrics export has the same over every replica, for Grafana)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field


class TrafficPoint(BaseModel):
    """One second of /recommend answers."""

    at: float = Field(description="start of the second, Unix time")
    requests: int
    p50_ms: float | None
    p99_ms: float | None


class RecentTraffic:
    """Latencies of the last `seconds` seconds, bucketed by second; seconds without a request
    show as 0 requests."""

    def __init__(self, seconds: int = 120, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self._clock = clock
        self._buckets: deque[tuple[int, list[float]]] = deque()

    def record(self, latency_s: float) -> None:
        second = int(self._clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, []))
        self._buckets[-1][1].append(latency_s * 1000)
        self._forget(second)

    def points(self) -> list[TrafficPoint]:
        now = int(self._clock())
        self._forget(now)
        seen = dict(self._buckets)
        points = []
        for second in range(now - self.seconds + 1, now + 1):
            latencies = np.asarray(seen.get(second, ()), dtype=np.float64)
            p50, p99 = np.percentile(latencies, [50, 99]) if latencies.size else (None, None)
            points.append(
                TrafficPoint(
                    at=float(second),
                    requests=int(latencies.size),
                    p50_ms=None if p50 is None else float(p50),
                    p99_ms=None if p99 is None else float(p99),
                )
            )
        return points

    def _forget(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.seconds:
            self._buckets.popleft()
