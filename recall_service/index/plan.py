"""Which vector index a collection gets, chosen by backend.

Measured by bench/recall.py on Milvus Lite 3.2.2 (32-d unit vectors, top-100, results in
bench/results/recall.txt): IVF_FLAT (nlist 4*sqrt(n), nprobe nlist/16) was slower than FLAT
at 10k items (p50 30 vs 9 ms) and at 100k (564 vs 290 ms), with recall@100 of 0.87 and 0.65,
and filtered searches kept only 0.32 / 0.42 of the true top-100. A Lite search spends its time
in per-row Python bookkeeping that is linear in the collection whatever the index, so IVF saves
nothing there. Hence Milvus Lite, as a file or as `milvus-lite server`, gets exact FLAT at every
catalog size, and a real Milvus server gets HNSW, whose graph search is sublinear there.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

LITE_VERSION_PREFIX = "milvus_lite"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
# HNSW needs ef >= k. On a Milvus 2.3 server, 64-d vectors, top-100 (bench/results/
# recall_server.txt): at 100k items ef = 2k kept 0.90 of the true top-100, 4k 0.97, 8k 0.99;
# at 1M, 4k kept 0.90-0.95 (two builds), 6k 0.94, 8k 0.965 (p99 19 ms against 14 at 4k).
HNSW_EF_PER_K = 8
HNSW_MIN_EF = 64


class IndexPlan(BaseModel):
    """An index type with its build parameters, and the search parameters for a given k."""

    model_config = ConfigDict(frozen=True)

    index_type: str
    build_params: dict[str, Any] = {}
    search_defaults: dict[str, Any] = Field(
        default_factory=dict, description="e.g. IVF's nprobe; HNSW's ef follows k"
    )
    ef_per_k: int = Field(HNSW_EF_PER_K, ge=1, description="HNSW's search ef for a top-k")

    def search_params(self, k: int) -> dict[str, Any]:
        if self.index_type == "HNSW":
            return {**self.search_defaults, "ef": max(HNSW_MIN_EF, self.ef_per_k * k)}
        return dict(self.search_defaults)


def is_lite_version(server_version: str) -> bool:
    """Whether a server's version string (MilvusClient.get_server_version) is Milvus Lite's."""
    return server_version.startswith(LITE_VERSION_PREFIX)


def choose_index(lite: bool) -> IndexPlan:
    """FLAT on Milvus Lite, HNSW on a Milvus server (see the module docstring for why)."""
    if lite:
        return IndexPlan(index_type="FLAT")
    return IndexPlan(
        index_type="HNSW", build_params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
    )
