"""The rerank stage's logic: policies applied in order over the ranked candidates."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq

from core.api import Candidate, StageResult, StageTrace
from core.settings import RerankSettings
from rerank_service.policies import cap_per_genre, top_k


def load_genres(items_folder: Path) -> dict[int, list[str]]:
    """item_id -> genres from the catalog."""
    table = pq.read_table(items_folder / "items.parquet", columns=["item_id", "genres"])
    return dict(zip(table["item_id"].to_pylist(), table["genres"].to_pylist(), strict=True))


class Reranker:
    """Turns a ranked candidate list into the final k items."""

    def __init__(self, settings: RerankSettings, genres: dict[int, list[str]]) -> None:
        self.settings = settings
        self.genres = genres

    def rerank(self, ranked: list[Candidate], k: int) -> StageResult:
        started = time.perf_counter()
        diversified = cap_per_genre(ranked, self.genres, self.settings.max_per_genre)
        final = top_k(diversified, k)
        trace = StageTrace(
            stage="rerank",
            candidates_in=len(ranked),
            candidates_out=len(final),
            ms=(time.perf_counter() - started) * 1000,
            detail={"max_per_genre": self.settings.max_per_genre},
        )
        return StageResult(candidates=final, trace=trace)
