"""The online loop, measured against a running app: read-your-writes and trending delay.

Usage (with `starling up` running on the default home and port, a write key and an admin key
set in its environment, e.g. STARLING_WRITE_API_KEYS='["w"]' STARLING_ADMIN_API_KEYS='["a"]'):
    .venv/bin/python bench/online.py --write-key w --admin-key a --seconds 30

(a) Read your writes: 50 events/s and 50 /recommend/s, open loop, side by side in one run. Each
event is a click on an item the user was just recommended; right after its 200, the same user
asks again, and the answer must leave the item out. Reported: that follow-up's latency (from
the event's 200 to the answer that shows it) beside a plain /recommend's under the same load,
and how many follow-ups still showed the item (goal: none, p99 <= 100 ms).
(b) Trending delay: bursts of 50 views of a cold item within a second; the time from the last
200 until GET /items?sort=trending lists it in its top 20 (goal: p99 <= 2 s).
(c) The stream after the run: landed, dropped and quarantined as /admin/stream reports them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

import httpx
import numpy as np

K = 10
BURST = 50


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    p50, p99 = np.percentile(values, [50, 99])
    return f"p50 {p50:6.1f}  p99 {p99:6.1f}  max {max(values):6.1f} ms  (n={len(values)})"


async def read_your_writes(
    client: httpx.AsyncClient, users: list[int], rate: int, seconds: float
) -> tuple[list[float], list[float], int, int]:
    """(follow-up latencies, plain latencies, follow-ups that still showed the item, errors)."""
    follow_ups: list[float] = []
    plain: list[float] = []
    stale = errors = 0

    async def recommend(user: int) -> list[int]:
        answer = await client.post("/recommend", json={"user_id": user, "k": K})
        answer.raise_for_status()
        return [item["item_id"] for item in answer.json()["items"]]

    async def write_then_read(user: int) -> None:
        nonlocal stale, errors
        try:
            shown = await recommend(user)
            click = {"user_id": user, "item_id": shown[0], "event_type": "click"}
            posted = await client.post("/events", json={"events": [click]})
            posted.raise_for_status()
            acknowledged = time.perf_counter()
            again = await recommend(user)
            follow_ups.append((time.perf_counter() - acknowledged) * 1000)
            stale += shown[0] in again
        except httpx.HTTPError:
            errors += 1

    async def read(user: int, scheduled: float) -> None:
        nonlocal errors
        try:
            await recommend(user)
            plain.append((time.perf_counter() - scheduled) * 1000)
        except httpx.HTTPError:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = start + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(write_then_read(random.choice(users))))
        tasks.append(asyncio.create_task(read(random.choice(users), scheduled)))
    await asyncio.gather(*tasks)
    return follow_ups, plain, stale, errors


async def trending_delays(client: httpx.AsyncClient, bursts: int) -> list[float]:
    """Seconds from each burst's last 200 until the item is in the trending top 20."""
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
            top = (await client.get("/items", params={"sort": "trending", "limit": 20})).json()
            if item in [i["item_id"] for i in top]:
                break
            await asyncio.sleep(0.02)
        delays.append((time.perf_counter() - posted) * 1000)
    return delays


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--write-key", required=True)
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--bursts", type=int, default=15)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.write_key}"}
    async with httpx.AsyncClient(base_url=args.url, timeout=30, headers=headers) as client:
        print(f"# load average before the run: {_load()}")
        users = list(range(1, args.users + 1))
        follow, plain, stale, errors = await read_your_writes(
            client, users, args.rate, args.seconds
        )
        print(f"## (a) read your writes: {args.rate} events/s + {args.rate} /recommend/s")
        print(f"follow-up /recommend after an event's 200: {_percentiles(follow)}")
        print(f"plain /recommend under the same load:     {_percentiles(plain)}")
        if follow and plain:
            ratio = np.percentile(follow, 99) / np.percentile(plain, 99)
            print(f"p99 ratio follow-up / plain: {ratio:.2f}x")
        print(f"follow-ups still showing the clicked item: {stale}; failed requests: {errors}")
        print(f"# load average after (a): {_load()}")
        delays = await trending_delays(client, args.bursts)
        print(f"## (b) trending delay, {BURST} views in under a second on a cold item")
        print(f"until it is in GET /items?sort=trending's top 20: {_percentiles(delays)}")
        await asyncio.sleep(10)
        admin = {"Authorization": f"Bearer {args.admin_key}"}
        stream = (await client.get("/admin/stream", headers=admin)).json()
        print("## (c) the event stream after the run (GET /admin/stream)")
        print({key: stream[key] for key in ("stream_length", "landed", "dropped", "quarantined")})
        print(f"# load average at the end: {_load()}")


if __name__ == "__main__":
    asyncio.run(main())
