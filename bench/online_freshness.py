"""bench/online.py's point (d): how old the newest event the serving models have learnt from is,
while ratings stream in and the app's Learner runs the online update every
STARLING_ONLINE__INTERVAL seconds.

The stream is ratings the home has never seen: `split` cuts a MovieLens-format folder by time
into a training folder (everything but the newest `--fraction` of ratings) for `starling up
--data`, and `replay.csv`, the newest ratings, which (d) posts in time order at `rate` a second
with no `ts`, so the server stamps them now: an event's time is when it reached the app. (Pairs
the models learnt already would teach them nothing new, and the gate would rightly refuse every
candidate made from them.) Every `sample_s` seconds the registry says which rank and recall
versions serve and the newest event time each learnt (its `trained_until_ms`); the age is now
minus that. Side by side: the age the versions that served when the stream began would have
(no update: what a frozen model gives).

    .venv/bin/python bench/online_freshness.py split data/synthetic /tmp/fresh --fraction 0.2
    starling up --data /tmp/fresh/train   # with STARLING_ONLINE__INTERVAL=60 and keys
    .venv/bin/python bench/online.py --write-key w --admin-key a \
        --freshness 600 --replay /tmp/fresh/replay.csv
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from core.paths import StarlingPaths
from core.registry import ModelKind, Registry
from core.settings import Settings

TRAINED_UNTIL = "trained_until_ms"
KINDS: tuple[ModelKind, ...] = ("rank", "recall")


def split(source: Path, out: Path, fraction: float) -> None:
    """`out/train`: `source`'s files with the newest `fraction` of its ratings cut from
    ratings.csv (tags too, when they are as new); `out/replay.csv`: those ratings, oldest first."""
    ratings = pd.read_csv(source / "ratings.csv").sort_values("timestamp", kind="stable")
    cut = int(len(ratings) * (1 - fraction))
    moment = ratings["timestamp"].iloc[cut]
    train = out / "train"
    train.mkdir(parents=True)
    for file in source.glob("*.csv"):
        if file.name not in ("ratings.csv", "tags.csv"):
            shutil.copy(file, train / file.name)
    ratings.iloc[:cut].to_csv(train / "ratings.csv", index=False)
    ratings.iloc[cut:].to_csv(out / "replay.csv", index=False)
    if (source / "tags.csv").is_file():
        tags = pd.read_csv(source / "tags.csv")
        tags[tags["timestamp"] < moment].to_csv(train / "tags.csv", index=False)
    print(f"{cut:,} ratings to train on, {len(ratings) - cut:,} to replay, from {moment}")


def replay_ratings(path: Path, count: int) -> list[dict[str, object]]:
    """The first `count` ratings of a replay file, as POST /events entries."""
    rows = pd.read_csv(path, nrows=count)
    return [
        {"user_id": int(u), "item_id": int(i), "value": float(v), "event_type": "rating"}
        for u, i, v in zip(rows["userId"], rows["movieId"], rows["rating"], strict=True)
    ]


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
    replay: Path,
) -> None:
    """Run the stream for `seconds` and print the ages (see the module docstring)."""
    registry = Registry(StarlingPaths.of(Settings()).registry)
    events = replay_ratings(replay, int(seconds * rate))
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="split a MovieLens-format folder for (d)")
    parser.add_argument("command", choices=["split"])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--fraction", type=float, default=0.2)
    args = parser.parse_args()
    split(args.source, args.out, args.fraction)
