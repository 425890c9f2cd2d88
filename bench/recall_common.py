"""What the recall benchmarks share: synthetic catalogs, timings and their printed rows."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel

from recall_service.index.item_attributes import ItemAttributes
from recall_service.index.milvus import l2_normalise

# The item bag's embedding size (ItemBagSettings.dim); results before 2026-12-07 were at 32.
DIM = 64
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
