"""The Rerank deployment: a thin Serve shell around Reranker."""

from __future__ import annotations

from ray import serve

from core.api import Candidate, StageResult
from core.paths import StarlingPaths
from core.settings import Settings
from rerank_service.reranker import Reranker, load_genres


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.25})
class Rerank:
    def __init__(self, settings: Settings) -> None:
        genres = load_genres(StarlingPaths(settings.home).items)
        self.reranker = Reranker(settings.rerank, genres)

    async def rerank(self, ranked: list[Candidate], k: int) -> StageResult:
        return self.reranker.rerank(ranked, k)
