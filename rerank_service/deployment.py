"""The Rerank deployment: a thin Serve shell around Reranker."""

from __future__ import annotations

from ray import serve

from core.api import Candidates, StageResult
from core.experiments import RerankOverrides
from core.paths import StarlingPaths
from core.settings import Settings
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker


@serve.deployment
class Rerank:
    def __init__(self, settings: Settings) -> None:
        facts = ItemFacts.load(StarlingPaths.of(settings).item_features)
        self.reranker = Reranker(settings.rerank, facts)

    async def rerank(
        self,
        ranked: Candidates,
        k: int,
        excluded: list[int] | None = None,
        genre: str | None = None,
        overrides: RerankOverrides | None = None,
    ) -> StageResult:
        return self.reranker.rerank(ranked, k, excluded, genre, overrides)
