"""Token buckets by key, kept in one replica's memory.

Each Gateway replica keeps its own buckets: with N replicas behind the load balancer a key may
spend up to N times the rate. That is enough to keep one browser session from flooding the
event stream, which is all the site's limit is for, without a Redis round trip per write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`burst` tokens per key, refilled at `per_s`; at most `max_keys` keys are remembered
    (the least recently used go first, and come back full)."""

    def __init__(
        self,
        burst: int,
        per_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_s = per_s
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, n: int = 1) -> float:
        """Spend `n` tokens of `key`'s bucket: 0.0 when they were there, else the seconds until
        they will be (nothing is spent then). More than `burst` at once is never allowed."""
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_s)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if n > self.burst:
            return float("inf")
        if bucket.tokens >= n:
            bucket.tokens -= n
            return 0.0
        return (n - bucket.tokens) / self.per_s
