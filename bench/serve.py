"""Latency under load: the running app over HTTP against the same pipeline in one process.

Usage (with `starling up` running on the default home and port):
    .venv/bin/python bench/serve.py --rates 20 50 100 --seconds 30

Both sides answer the same users with the same models: the Serve side through HTTP, the
Gateway and three deployments; the in-process side calls the same Recaller, RankStage and
Reranker directly. The ratio is what Serve costs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np
import torch
from machine import machine_line
from pydantic import BaseModel

from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from rank_service.serving.stage import RankStage
from recall_service.index.replica import open_replica_index
from recall_service.registry import recall_model
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.popular_cache import CachedPopularity
from recall_service.serving.recaller import Recaller
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker


class LoadResult(BaseModel):
    side: str
    rate: int
    sent: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


async def open_loop(
    call: Callable[[int], Awaitable[None]], users: list[int], rate: int, seconds: float
) -> tuple[list[float], int]:
    """Fire requests at a fixed rate (open loop: a slow answer does not slow the sender)."""
    latencies: list[float] = []
    errors = 0

    async def one(user: int, scheduled: float) -> None:
        nonlocal errors
        try:
            await call(user)
            # From the scheduled send time, so that queueing behind slow answers counts.
            latencies.append((time.perf_counter() - scheduled) * 1000)
        except Exception:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = start + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(random.choice(users), scheduled)))
    await asyncio.gather(*tasks)
    return latencies, errors


def summarise(side: str, rate: int, latencies: list[float], errors: int) -> LoadResult:
    values = np.array(latencies or [float("nan")])
    return LoadResult(
        side=side,
        rate=rate,
        sent=len(latencies) + errors,
        errors=errors,
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        p99_ms=float(np.percentile(values, 99)),
    )


def in_process_pipeline(settings: Settings) -> Callable[[int], Awaitable[None]]:
    """The same three stages as the app, called directly in this process."""
    paths = StarlingPaths.of(settings)
    registry = Registry(paths.registry)
    store = OnlineStore(settings.resolved_redis_url())
    recall_ref = registry.serving("recall")
    rank_ref = registry.serving("rank")
    if recall_ref is None or rank_ref is None:
        raise SystemExit("train the models first (starling up)")
    # Built as the Recall deployment builds it: the same index, caches, routes and user vectors.
    replica = open_replica_index(settings, paths, recall_ref)
    recaller = Recaller(
        replica.searcher,
        CachedPopularity(store),
        settings,
        replica.label,
        GenrePopularity.from_item_features(paths.item_features),
        recall_model(recall_ref.name).user_vectors(
            registry.path(recall_ref),
            replica.searcher,
            settings,
        ),
    )
    # As in each Rank replica: one torch thread, so that the forward pass does not fight the
    # load generator (and, on the Serve side, the other replicas) for the two cores.
    torch.set_num_threads(1)
    ranker = RankStage(store, registry, paths.item_features, settings.rank.model_weight)
    ranker.reconfigure({"name": rank_ref.name, "version": rank_ref.version})
    reranker = Reranker(settings.rerank, ItemFacts.load(paths.item_features))

    async def call(user: int) -> None:
        recalled = recaller.recall(user)
        ranked = ranker.rank(user, recalled.candidates, recalled.user)
        reranker.rerank(ranked.candidates, 10)

    return call


def plot(results: list[LoadResult], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for side in sorted({r.side for r in results}):
        rows = [r for r in results if r.side == side]
        ax.plot([r.rate for r in rows], [r.p99_ms for r in rows], marker="o", label=f"{side} p99")
        ax.plot([r.rate for r in rows], [r.p50_ms for r in rows], ls="--", label=f"{side} p50")
    ax.set_xlabel("requests/s")
    # A saturated side queues for seconds; a log scale keeps the unsaturated milliseconds legible.
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("POST /recommend, k=10")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


def _load() -> str:
    """The machine's 1, 5 and 15 minute load averages: other work on it shows up here."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--home", type=Path, default=Path(".starling"))
    parser.add_argument("--rates", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    settings = Settings(home=args.home)
    users = list(range(1, 200))
    results: list[LoadResult] = []
    local = in_process_pipeline(settings)
    # This process holds torch and the whole pipeline: a full collection over all of it pauses
    # the event loop that timestamps the answers, and would count as the app's latency.
    gc.freeze()
    headers = {"x-request-timeout-seconds": "0"}
    async with httpx.AsyncClient(base_url=args.url, timeout=30, headers=headers) as client:

        async def over_http(user: int) -> None:
            answer = await client.post("/recommend", json={"user_id": user, "k": 10})
            answer.raise_for_status()

        print(machine_line())
        for user in (1, 2, 3):
            debug = await client.post("/recommend", json={"user_id": user, "k": 10, "debug": True})
            stages = "  ".join(f"{t['stage']} {t['ms']:.1f}" for t in debug.json()["trace"])
            print(f"# one request with debug=true, user {user}: {stages} ms")

        for rate in args.rates:
            for side, call in (("serve", over_http), ("in-process", local)):
                latencies, errors = await open_loop(call, users, rate, args.seconds)
                results.append(summarise(side, rate, latencies, errors))
                row = results[-1]
                print(
                    f"{row.side:>10} {row.rate:>4} req/s  sent {row.sent:>5}  errors {row.errors}"
                    f"  p50 {row.p50_ms:6.1f}  p95 {row.p95_ms:6.1f}  p99 {row.p99_ms:6.1f} ms"
                    f"  (load average {_load()})"
                )
    for rate in args.rates:
        serve_row = next(r for r in results if r.side == "serve" and r.rate == rate)
        local_row = next(r for r in results if r.side == "in-process" and r.rate == rate)
        print(
            f"{rate:>4} req/s: Serve p99 / in-process p99 = "
            f"{serve_row.p99_ms / local_row.p99_ms:.1f}x"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "serve_latency.png")


if __name__ == "__main__":
    asyncio.run(main())
