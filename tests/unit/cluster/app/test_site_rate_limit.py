"""The token buckets that limit a site session's writes."""

from __future__ import annotations

import math

from cluster.app.rate_limit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Clock()
    buckets = TokenBuckets(burst=3, per_s=0.5, clock=clock)
    assert [buckets.take("s") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("s") == 2.0
    clock.now += 1.0
    assert buckets.take("s") == 1.0
    clock.now += 1.0
    assert buckets.take("s") == 0.0
    assert buckets.take("s") > 0


def test_keys_have_their_own_buckets_and_an_oversized_ask_never_passes() -> None:
    clock = Clock()
    buckets = TokenBuckets(burst=2, per_s=1.0, clock=clock)
    assert buckets.take("a", 2) == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b", 2) == 0.0
    assert math.isinf(buckets.take("c", 3))


def test_the_least_recently_used_keys_are_forgotten_past_the_cap() -> None:
    buckets = TokenBuckets(burst=1, per_s=0.001, max_keys=2, clock=Clock())
    for key in ("a", "b", "a", "c"):
        buckets.take(key)
    # "b" was forgotten (its bucket comes back full); "a" and "c" are still spent.
    assert buckets.take("b") == 0.0
    assert buckets.take("c") > 0
