"""An open-loop /recommend load at a fixed rate: requests leave on schedule whatever the
answers do, as users' requests would, so a stall shows as latency and not as a lull."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

# (second of the run, action): what happens to the app while the load runs.
Scheduled = list[tuple[float, Callable[[], None]]]


@dataclass
class Outcome:
    started_s: float
    status: int
    ms: float
    degraded: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class LoadReport:
    outcomes: list[Outcome]

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]

    def degraded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200 and o.degraded]

    def p99_ms(self) -> float:
        return float(np.percentile([o.ms for o in self.outcomes], 99))

    def summary(self) -> str:
        ms = [o.ms for o in self.outcomes]
        p50, p99 = np.percentile(ms, [50, 99])
        return (
            f"{len(ms)} requests: {len(self.failed())} failed, {len(self.degraded())} degraded, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(ms):.0f} ms"
        )


async def _one(client: httpx.AsyncClient, user: int, started: float) -> Outcome:
    begin = time.perf_counter()
    try:
        answer = await client.post("/recommend", json={"user_id": user, "k": 10})
    except httpx.HTTPError as error:
        ms = (time.perf_counter() - begin) * 1000
        return Outcome(started, 0, ms, error=f"{type(error).__name__}: {error}")
    ms = (time.perf_counter() - begin) * 1000
    if answer.status_code != 200:
        return Outcome(started, answer.status_code, ms, error=answer.text[:200])
    return Outcome(started, 200, ms, answer.json().get("degraded", []))


async def _run(
    url: str,
    rate: float,
    seconds: float,
    users: int,
    events: list[tuple[float, Callable[[], None]]],
) -> LoadReport:
    rng = random.Random(7)
    pending = sorted(events, key=lambda e: e[0])
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
        tasks: list[asyncio.Task[Outcome]] = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            at = n / rate
            while pending and pending[0][0] <= at:
                # Off the loop: a kill looks processes up, which takes a while on a busy machine.
                await asyncio.to_thread(pending.pop(0)[1])
            await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
            tasks.append(asyncio.create_task(_one(client, rng.randint(1, users), at)))
        return LoadReport(list(await asyncio.gather(*tasks)))


def recommend_load(
    url: str,
    rate: float,
    seconds: float,
    users: int,
    events: Scheduled | None = None,
) -> LoadReport:
    """`rate` /recommend a second for `seconds`, users drawn from 1..`users`; each of `events`
    (second, action) runs when the schedule reaches its second."""
    return asyncio.run(_run(url, rate, seconds, users, list(events or [])))
