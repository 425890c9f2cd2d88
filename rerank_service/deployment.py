"""The Rerank deployment: a thin Serve shell around Reranker."""

from __future__ import annotations

from ray import serve

from core.api import Candidates, StageResult
from core.catalog_follower import CatalogFollower
from core.experiments import RerankOverrides
from core.online_catalog import OnlineCatalog
from core.paths import StarlingPaths
from core.redis_breaker import serving_store
from core.settings import Settings
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker


@serve.deployment
class Rerank:
    def __init__(self, settings: Settings) -> None:
        facts = ItemFacts.load(StarlingPaths.of(settings).item_features)
        self.reranker = Reranker(settings.rerank, facts)
        online = OnlineCatalog(serving_store(settings).client)
        self._follower = CatalogFollower(online, facts.add_entries)

    async def rerank(
        self,
        ranked: Candidates,
        k: int,
        excluded: list[int] | None = None,
        genre: str | None = None,
        overrides: RerankOverrides | None = None,
    ) -> StageResult:
        self._follower.poll()
        return self.reranker.rerank(ranked, k, excluded, genre, overrides)
