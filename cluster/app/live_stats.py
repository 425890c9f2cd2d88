"""What the ops page shows per deployment that Serve does not report: requests in flight and
p50/p99 latency over a window of recent calls, as seen by this Gateway replica."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import BaseModel


class CallStats(BaseModel):
    ongoing: int
    calls: int
    p50_ms: float | None
    p99_ms: float | None


class LiveStats:
    """In-flight counts and the latencies of the last `window` calls, per name."""

    def __init__(self, window: int = 1000) -> None:
        self.window = window
        self._ongoing: dict[str, int] = {}
        self._calls: dict[str, int] = {}
        self._latencies: dict[str, deque[float]] = {}

    @contextmanager
    def track(self, name: str) -> Iterator[None]:
        self._ongoing[name] = self._ongoing.get(name, 0) + 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self._ongoing[name] -= 1
            self.record(name, (time.perf_counter() - started) * 1000)

    def record(self, name: str, ms: float) -> None:
        self._calls[name] = self._calls.get(name, 0) + 1
        self._latencies.setdefault(name, deque(maxlen=self.window)).append(ms)

    def snapshot(self) -> dict[str, CallStats]:
        names = self._ongoing.keys() | self._latencies.keys()
        return {name: self._stats(name) for name in sorted(names)}

    def _stats(self, name: str) -> CallStats:
        latencies = np.fromiter(self._latencies.get(name, ()), dtype=np.float64)
        p50, p99 = np.percentile(latencies, [50, 99]) if latencies.size else (None, None)
        return CallStats(
            ongoing=self._ongoing.get(name, 0),
            calls=self._calls.get(name, 0),
            p50_ms=None if p50 is None else float(p50),
            p99_ms=None if p99 is None else float(p99),
        )


class TrackedCall:
    """A deployment method whose calls are tracked under `name`; `.remote()` as on a handle."""

    def __init__(self, stats: LiveStats, name: str, call: Any) -> None:
        self.stats = stats
        self.name = name
        self.call = call

    def remote(self, *args: Any) -> Awaitable[Any]:
        return self._tracked(args)

    async def _tracked(self, args: tuple[Any, ...]) -> Any:
        with self.stats.track(self.name):
            return await self.call.remote(*args)
