"""Top-100 vector search: Milvus Lite (and a Milvus server's HNSW) against exact numpy search
on the same vectors, and the Recall deployment's latency per request.

Usage:
    .venv/bin/python bench/recall.py                        # 10k, 100k and 1M items, ~10 min
    .venv/bin/python bench/recall.py --sizes 10000 --quick  # a smoke run
    milvus-server --data /tmp/milvus &                      # PyPI's milvus==2.3.5 (dev extras)
    .venv/bin/python bench/recall.py --milvus-uri http://127.0.0.1:19530 --sizes 100000
    .venv/bin/python bench/recall.py --milvus-uri ... --sizes 100000 1000000 --no-lite --no-serve

For each catalog size, synthetic 64-d unit vectors (items in ~50-item niches, like the
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
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import SecretStr
from recall_common import BATCH, DIM, K, Timing, overlap, row, synthetic, timed
from recall_deployment import bench_deployment

from core.settings import Settings
from recall_service.index.exact import ExactIndex
from recall_service.index.files import COLLECTION
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import VectorIndex, l2_normalise
from recall_service.index.plan import HNSW_EF_PER_K, IndexPlan

COMEDY = ItemFilter(genre="Comedy", min_year=2000)


@dataclass(frozen=True)
class Workload:
    """The queries one catalog size answers (`singles` one at a time, then `batches` of
    BATCH) and their exact top-K."""

    n: int
    queries: np.ndarray
    singles: int
    batches: int
    truth: list[list[tuple[int, float]]]


@dataclass(frozen=True)
class Server:
    """A Milvus server to measure beside the embedded side: its address, the credentials it
    is sent when it has authorization on, and the HNSW ef-per-k values to search it with."""

    uri: str
    credentials: SecretStr | None
    ef_per_k: list[int]


def bench_size(
    n: int, work: Path, ivf_max: int, quick: bool, server: Server | None, lite: bool = True
) -> list[Timing]:
    ids, vectors, attributes = synthetic(n, seed=n)
    rng = np.random.default_rng(1)
    # At least 100 single queries at every size: a p99 of ten calls is their maximum.
    singles = 5 if quick else max(100, min(200, 2_000_000 // n))
    batches = 2 if quick else max(3, min(20, 100_000 // n))
    queries = l2_normalise(
        vectors[rng.integers(0, n, singles + batches * BATCH)]
        + 0.2 * rng.normal(size=(singles + batches * BATCH, DIM)).astype(np.float32)
    )
    exact = ExactIndex(ids, vectors, attributes)
    load = Workload(n, queries, singles, batches, exact.search(queries, K))
    results = _exact_rows(exact, load)
    for side, plan in _plans(n, ivf_max) if lite else []:
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
            results += _index_rows(side, index, exact, load)
        finally:
            index.close()
            shutil.rmtree(folder, ignore_errors=True)
    if server:
        results += _server_rows(server, ids, vectors, attributes, exact, load)
    return results


def _server_rows(
    server: Server,
    ids: np.ndarray,
    vectors: np.ndarray,
    attributes: ItemAttributes,
    exact: ExactIndex,
    load: Workload,
) -> list[Timing]:
    """The same workload on a Milvus server, with the index Starling chooses there (HNSW),
    built, sealed and indexed before the clock starts, once for every ef-per-k value (one
    build: ef is a search parameter, and a build of 1M items takes 10-15 minutes here)."""
    collection = f"bench_{load.n}"
    began = time.perf_counter()
    index = VectorIndex.build(
        server.uri, collection, ids, vectors, attributes, credentials=server.credentials
    )
    print(
        f"# milvus-server {load.n:,} items: built, sealed and indexed in"
        f" {time.perf_counter() - began:.1f} s ({index.plan.index_type})",
        flush=True,
    )
    try:
        results: list[Timing] = []
        for ef_per_k in server.ef_per_k:
            index.plan = index.plan.model_copy(update={"ef_per_k": ef_per_k})
            side = f"milvus-server {index.plan.index_type}"
            if len(server.ef_per_k) > 1:
                side += f" ef {ef_per_k}k"
            results += _index_rows(side, index, exact, load)
        return results
    finally:
        index.client.drop_collection(collection)
        index.close()


def _exact_rows(exact: ExactIndex, load: Workload) -> list[Timing]:
    queries, n = load.queries, load.n
    return [
        row(
            "numpy exact",
            n,
            "1 query",
            timed(lambda i: exact.search(queries[i], K), load.singles),
            1,
        ),
        row(
            "numpy exact",
            n,
            f"batch of {BATCH}",
            timed(lambda i: exact.search(queries[i * BATCH : (i + 1) * BATCH], K), load.batches),
            1,
        ),
        row(
            "numpy exact",
            n,
            "1 query, filter",
            timed(lambda i: exact.search(queries[i], K, COMEDY), load.singles),
            1,
        ),
    ]


def _plans(n: int, ivf_max: int) -> list[tuple[str, IndexPlan | None]]:
    """Starling's own choice, and IVF_FLAT up to `ivf_max` items."""
    plans: list[tuple[str, IndexPlan | None]] = [("milvus-lite FLAT", None)]
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
    return plans


def _index_rows(side: str, index: VectorIndex, exact: ExactIndex, load: Workload) -> list[Timing]:
    queries, n, singles = load.queries, load.n, load.singles
    found = [index.search(queries[i], K)[0] for i in range(singles)]
    results = [
        row(
            side,
            n,
            "1 query",
            timed(lambda i: index.search(queries[i], K), singles),
            overlap(found, load.truth[:singles]),
        )
    ]
    batch_found = index.search(queries[singles : singles + BATCH], K)
    results.append(
        row(
            side,
            n,
            f"batch of {BATCH}",
            timed(lambda i: index.search(queries[i * BATCH : (i + 1) * BATCH], K), load.batches),
            overlap(batch_found, load.truth[singles : singles + BATCH]),
        )
    )
    results.append(
        row(
            side,
            n,
            "1 query, filter",
            timed(lambda i: index.search(queries[i], K, COMEDY), singles),
            overlap(
                [index.search(queries[i], K, COMEDY)[0] for i in range(3)],
                exact.search(queries[:3], K, COMEDY),
            ),
        )
    )
    return results


def ratios(results: list[Timing]) -> None:
    print("# ratios (p50): Milvus / numpy exact; Recall deployment / in-process")
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
    parser.add_argument("--milvus-uri", default=None, help="a Milvus server to measure as well")
    parser.add_argument("--no-serve", action="store_true", help="skip the Recall deployment")
    parser.add_argument(
        "--no-lite", action="store_true", help="skip Milvus Lite (13 minutes to build at 1M)"
    )
    parser.add_argument(
        "--ef-per-k",
        type=int,
        nargs="+",
        default=[HNSW_EF_PER_K],
        help="the server's HNSW ef as multiples of k, each measured on one build",
    )
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(
        f"# bench/recall.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, dim {DIM}, top-{K},"
        f" load average before {' '.join(load)}, python {sys.version.split()[0]}"
    )
    # A server with authorization on is signed in to as Starling would (STARLING_MILVUS__*).
    server = (
        Server(args.milvus_uri, Settings().milvus.credentials(), args.ef_per_k)
        if args.milvus_uri
        else None
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="starling-recall-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        for n in args.sizes:
            results += bench_size(n, work, args.ivf_max, args.quick, server, not args.no_lite)
        if not args.no_serve:
            calls = 20 if args.quick else args.serve_calls
            results += bench_deployment(args.serve_items, work, calls)
        ratios(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
