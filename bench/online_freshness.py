"""bench/online.py's point (d): how old the newest event the serving models have learnt from is,
while ratings stream in and the app's Learner runs the online update every
STARLING_ONLINE__INTERVAL seconds.

Ratings drawn from the home's own lake (user, item, value) are posted at `rate` a second with no
`ts`, so the server stamps them now: an event's time is when it reached the app. Every
`sample_s` seconds the registry says which rank and recall versions serve and the newest event
time each learnt (its `trained_until_ms`); the age is now minus that. Side by side: the age the
versions that served when the stream began would have (no update: what a frozen model gives).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import httpx
import numpy as np
import pyarrow.compute as pc

from core.paths import StarlingPaths
from core.registry import ModelKind, Registry
from core.settings import Settings
from core.storage import parquet_dataset

TRAINED_UNTIL = "trained_until_ms"
KINDS: tuple[ModelKind, ...] = ("rank", "recall")


def lake_ratings(paths: StarlingPaths, count: int, seed: int = 0) -> list[dict[str, object]]:
    """`count` rating events drawn at random from the lake, as POST /events entries."""
    table = parquet_dataset(paths.events).to_table(
        columns=["user_id", "item_id", "value"], filter=pc.field("event_type") == "rating"
    )
    picked = np.random.default_rng(seed).choice(table.num_rows, size=count)
    rows = table.take(picked).to_pylist()
    return [{**row, "event_type": "rating"} for row in rows]


def serving_trained_until(registry: Registry) -> dict[str, tuple[str, int]]:
    """Per kind, the serving version and the newest event time (ms) it learnt (0: unknown)."""
    found: dict[str, tuple[str, int]] = {}
    for kind in KINDS:
        ref = registry.serving(kind)
        if ref is None:
            continue
        until = registry.manifest(ref).params.get(TRAINED_UNTIL) or 0
        found[kind] = (f"{ref.name} {ref.version}", int(until))
    return found


def _ages(values: list[float]) -> str:
    if not values:
        return "no sample"
    p50, p95 = np.percentile(values, [50, 95])
    return f"p50 {p50:7.0f}  p95 {p95:7.0f}  max {max(values):7.0f} s  (n={len(values)})"


async def _post(client: httpx.AsyncClient, events: list[dict[str, object]], rate: float) -> int:
    """Post `events` one a request at `rate` a second; the number that failed."""
    failed = 0
    start = time.perf_counter()
    for n, event in enumerate(events):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        try:
            (await client.post("/events", json={"events": [event]})).raise_for_status()
        except httpx.HTTPError:
            failed += 1
    return failed


async def freshness(
    client: httpx.AsyncClient,
    seconds: float,
    rate: float,
    sample_s: float,
    load: Callable[[], str],
) -> None:
    """Run the stream for `seconds` and print the ages (see the module docstring)."""
    paths = StarlingPaths.of(Settings())
    registry = Registry(paths.registry)
    events = lake_ratings(paths, int(seconds * rate))
    random.shuffle(events)
    at_start = serving_trained_until(registry)
    print(f"## (d) age of the newest learnt event, {rate:g} ratings/s for {seconds:.0f} s")
    print(f"serving at the start: {at_start}")
    poster = asyncio.create_task(_post(client, events, rate))
    began = time.time()
    ages: dict[str, list[float]] = {kind: [] for kind in at_start}
    frozen: dict[str, list[float]] = {kind: [] for kind in at_start}
    versions: dict[str, set[str]] = {kind: set() for kind in at_start}
    while not poster.done():
        await asyncio.sleep(sample_s)
        now = time.time()
        for kind, (version, until) in serving_trained_until(registry).items():
            versions[kind].add(version)
            # Until a version learnt from the stream, the newest event it learnt predates it:
            # its age counts from the stream's start.
            ages[kind].append(now - max(until / 1000, began))
            frozen[kind].append(now - max(at_start[kind][1] / 1000, began))
    failed = await poster
    for kind in at_start:
        print(f"{kind:<6} served {sorted(versions[kind])}")
        print(f"{kind:<6} updated on a schedule: {_ages(ages[kind])}")
        print(f"{kind:<6} frozen (no update):    {_ages(frozen[kind])}")
    print(f"failed event posts: {failed}; load average at the end of (d): {load()}")
