"""The online loop, measured against a running app: read-your-writes and trending delay.

Usage (with `starling up` running on the default home and port, a write key and an admin key
set in its environment, e.g. STARLING_WRITE_API_KEYS='["w"]' STARLING_ADMIN_API_KEYS='["a"]'):
    .venv/bin/python bench/online.py --write-key w --admin-key a --seconds 30

(a) Read your writes, in one run: first /recommend alone at 50/s (the baseline), then 50
events/s, each a click on the item the user was recommended first (asked before the timed
phase) and followed at once by the same user's /recommend, which must leave the item out:
50 events/s plus 50 /recommend/s. Reported: the follow-up's latency from the event's 200 to
the answer that shows it, beside the baseline's, and how many follow-ups still showed the item
(goal: none, p99 <= 100 ms).
(b) Trending delay: bursts of 50 views of a cold item within a second; the time from the last
200 until GET /items?sort=trending counts all 50 for it (goal: p99 <= 2 s).
(c) The stream after the run: landed, dropped and quarantined as /admin/stream reports them.
(d, e) With --learn: /recommend at 20/s while `starling learn` runs (features rebuilt on the
lake the run grew, the ranker fine-tuned, judged and, if the gate accepts it, swapped in), then
while the rank model is swapped back and forth `--swaps` times with `starling models promote`:
failed requests (goal: none) and latency during each, and how long the update took, which is
what the serving model's newest learnt event is older than the lake's newest beyond
STARLING_ONLINE__INTERVAL. Run it with the app's environment (STARLING_HOME and the rest), as
the CLI calls need it.
(d) With --freshness SECONDS --replay FILE, against an app started with
STARLING_ONLINE__INTERVAL > 0 on a home that never saw FILE's ratings: the age of the newest
event the serving models learnt from while those ratings stream in, beside the age the
versions serving at the start would have without updates (bench/online_freshness.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np
from online_freshness import freshness

K = 10
BURST = 50


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    p50, p99 = np.percentile(values, [50, 99])
    return f"p50 {p50:6.1f}  p99 {p99:6.1f}  max {max(values):6.1f} ms  (n={len(values)})"


async def _recommend(client: httpx.AsyncClient, user: int) -> list[int]:
    answer = await client.post("/recommend", json={"user_id": user, "k": K})
    answer.raise_for_status()
    return [item["item_id"] for item in answer.json()["items"]]


async def first_items(client: httpx.AsyncClient, users: list[int]) -> dict[int, int]:
    """Each user's first recommended item, asked before the timed phase (8 at a time)."""
    found: dict[int, int] = {}
    gate = asyncio.Semaphore(8)

    async def one(user: int) -> None:
        async with gate:
            items = await _recommend(client, user)
        # A synthetic user may have rated the whole catalogue: nothing is left to show them.
        if items:
            found[user] = items[0]

    await asyncio.gather(*(one(user) for user in users))
    return found


async def open_loop(
    call: Callable[[int], Awaitable[float]], users: list[int], rate: int
) -> tuple[list[float], int]:
    """One call per user at `rate` a second (open loop); each returns the latency it measured."""
    latencies: list[float] = []
    errors = 0

    async def one(user: int) -> None:
        nonlocal errors
        try:
            latencies.append(await call(user))
        except httpx.HTTPError:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for n, user in enumerate(users):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(user)))
    await asyncio.gather(*tasks)
    return latencies, errors


async def read_your_writes(
    client: httpx.AsyncClient, users: list[int], rate: int
) -> tuple[list[float], int, int]:
    """Each user clicks their first recommended item and asks again: (latencies from the
    click's 200 to the answer, answers that still showed the item, failed requests)."""
    shown = await first_items(client, users)
    stale = 0

    async def write_then_read(user: int) -> float:
        nonlocal stale
        click = {"user_id": user, "item_id": shown[user], "event_type": "click"}
        (await client.post("/events", json={"events": [click]})).raise_for_status()
        acknowledged = time.perf_counter()
        again = await _recommend(client, user)
        stale += shown[user] in again
        return (time.perf_counter() - acknowledged) * 1000

    latencies, errors = await open_loop(write_then_read, [u for u in users if u in shown], rate)
    return latencies, stale, errors


async def plain_reads(
    client: httpx.AsyncClient, users: list[int], rate: int
) -> tuple[list[float], int]:
    """/recommend alone at the same rate: the baseline the follow-ups are compared with."""

    async def read(user: int) -> float:
        started = time.perf_counter()
        await _recommend(client, user)
        return (time.perf_counter() - started) * 1000

    return await open_loop(read, users, rate)


async def trending_delays(client: httpx.AsyncClient, bursts: int) -> list[float]:
    """Milliseconds from each burst's last 200 until GET /items?sort=trending counts all of it
    for the item (what the trending route and order read)."""
    catalogue = (await client.get("/items", params={"limit": 500})).json()
    cold = [item["item_id"] for item in catalogue[-bursts:]]
    delays = []
    for n, item in enumerate(cold):
        views = [
            {"user_id": 900_000 + n * BURST + u, "item_id": item, "event_type": "view"}
            for u in range(BURST)
        ]
        for first in range(0, BURST, 10):
            batch = {"events": views[first : first + 10]}
            (await client.post("/events", json=batch)).raise_for_status()
        posted = time.perf_counter()
        while time.perf_counter() - posted < 10:
            top = (await client.get("/items", params={"sort": "trending", "limit": 500})).json()
            if any(i["item_id"] == item and i["trending"] >= BURST for i in top):
                break
            await asyncio.sleep(0.02)
        delays.append((time.perf_counter() - posted) * 1000)
    return delays


def _starling(*args: str) -> str:
    """Run the CLI with this process's environment; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"starling {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


async def under_load(client: httpx.AsyncClient, users: int, work: Callable[[], object]) -> str:
    """/recommend at 20/s for as long as `work` runs in a thread: its latencies and failures."""
    done = asyncio.Event()
    latencies: list[float] = []
    failed = 0

    async def load() -> None:
        nonlocal failed
        while not done.is_set():
            started = time.perf_counter()
            try:
                (
                    await client.post(
                        "/recommend", json={"user_id": random.randint(1, users), "k": K}
                    )
                ).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                failed += 1
            await asyncio.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))

    loader = asyncio.create_task(load())
    try:
        await asyncio.to_thread(work)
    finally:
        done.set()
        await loader
    return f"{_percentiles(latencies)}, failed requests: {failed}"


async def learn_and_swap(client: httpx.AsyncClient, users: int, swaps: int) -> None:
    print("## (d) one online update (`starling learn`) while /recommend runs at 20/s")
    started = time.perf_counter()
    report = await under_load(client, users, lambda: print(_starling("learn").strip()))
    print(f"/recommend during it: {report}")
    print(f"the update took {time.perf_counter() - started:.1f} s end to end")
    models = json.loads(_starling("models", "list", "--json"))
    ranks = [m for m in models if m["kind"] == "rank"]
    serving = next(m for m in ranks if m.get("serving"))
    other = next(m for m in reversed(ranks) if m["version"] != serving["version"])
    print(f"## (e) {swaps} hot swaps of the ranker while /recommend runs at 20/s")
    for n in range(swaps):
        target = other if n % 2 == 0 else serving
        swap = ("models", "promote", "rank", target["name"], target["version"])
        report = await under_load(client, users, lambda swap=swap: _starling(*swap))
        print(f"swap {n + 1} to {target['name']} {target['version']}: {report}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--write-key", required=True)
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--bursts", type=int, default=15)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--learn", action="store_true", help="also run phases (d) and (e)")
    parser.add_argument("--swaps", type=int, default=4)
    parser.add_argument(
        "--freshness", type=float, default=0, help="seconds of point (d) alone (0: skip it)"
    )
    parser.add_argument("--event-rate", type=float, default=20.0, help="(d)'s ratings a second")
    parser.add_argument("--sample-s", type=float, default=10.0, help="(d)'s sampling period")
    parser.add_argument(
        "--replay", type=Path, help="(d)'s ratings, unseen by the home (online_freshness.py split)"
    )
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.write_key}"}
    async with httpx.AsyncClient(base_url=args.url, timeout=30, headers=headers) as client:
        print(f"# load average before the run: {_load()}")
        if args.freshness:
            if args.replay is None:
                parser.error("--freshness needs --replay")
            await freshness(
                client, args.freshness, args.event_rate, args.sample_s, _load, args.replay
            )
            return
        n = int(args.rate * args.seconds)
        plain, plain_errors = await plain_reads(
            client, [random.randint(1, args.users) for _ in range(n)], args.rate
        )
        print(f"# load average after the plain phase: {_load()}")
        writers = random.sample(range(1, args.users + 1), min(n, args.users))
        follow, stale, errors = await read_your_writes(client, writers, args.rate)
        print(f"## (a) read your writes: {args.rate} events/s, each followed by its /recommend")
        print(f"follow-up /recommend after an event's 200: {_percentiles(follow)}")
        print(f"plain /recommend at {args.rate}/s, no events:  {_percentiles(plain)}")
        if follow and plain:
            ratio = np.percentile(follow, 99) / np.percentile(plain, 99)
            print(f"p99 ratio follow-up / plain: {ratio:.2f}x")
        print(
            f"follow-ups still showing the clicked item: {stale}; "
            f"failed requests: {errors + plain_errors}"
        )
        print(f"# load average after (a): {_load()}")
        delays = await trending_delays(client, args.bursts)
        print(f"## (b) trending delay, {BURST} views in under a second on a cold item")
        print(f"until GET /items?sort=trending counts them all: {_percentiles(delays)}")
        await asyncio.sleep(10)
        admin = {"Authorization": f"Bearer {args.admin_key}"}
        stream = (await client.get("/admin/stream", headers=admin)).json()
        print("## (c) the event stream after the run (GET /admin/stream)")
        print({key: stream[key] for key in ("stream_length", "landed", "dropped", "quarantined")})
        if args.learn:
            await learn_and_swap(client, args.users, args.swaps)
        print(f"# load average at the end: {_load()}")


if __name__ == "__main__":
    asyncio.run(main())
