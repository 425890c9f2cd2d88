"""Candidate generation for one user: the embedding and popularity routes, merged."""

from __future__ import annotations

import time
from typing import Protocol

from core.api import StageResult, StageTrace
from core.online_store import UserProfile
from core.settings import Settings
from recall_service.merge import RouteHits, merge_routes
from recall_service.routes import ItemIndex, embedding_route, popular_scores

EMBEDDING = "embedding"
POPULAR = "popular"


class OnlineFeatures(Protocol):
    """The online-store reads recall needs (core.online_store.OnlineStore provides them)."""

    def profile(self, user_id: int) -> UserProfile | None: ...

    def seen(self, user_id: int) -> set[int]: ...

    def popular(self, n: int) -> list[tuple[int, float]]: ...


class Recaller:
    """Recall with one embedding model; `version` labels it in traces, e.g. "item2vec:v1"."""

    def __init__(
        self, index: ItemIndex, store: OnlineFeatures, settings: Settings, version: str
    ) -> None:
        self.index = index
        self.store = store
        self.settings = settings
        self.version = version

    def recall(self, user_id: int) -> StageResult:
        """Unseen candidates: embedding neighbours of the user's recent items by similarity,
        then popular items. A user without recent items gets popular items only."""
        start = time.perf_counter()
        quotas = self.settings.recall
        seen = self.store.seen(user_id)
        profile = self.store.profile(user_id)
        recent = profile.user_recent_items[: quotas.recent_items] if profile else []
        # Asking each route for len(seen) extra items leaves it its full quota after filtering.
        routes = [
            RouteHits(
                EMBEDDING,
                embedding_route(self.index, recent, quotas.embedding_quota + len(seen)),
                quotas.embedding_quota,
            ),
            RouteHits(
                POPULAR,
                popular_scores(self._popular(quotas.popular_quota, len(seen))),
                quotas.popular_quota,
            ),
        ]
        candidates, contributed = merge_routes(routes, seen)
        trace = StageTrace(
            stage="recall",
            candidates_in=0,
            candidates_out=len(candidates),
            ms=(time.perf_counter() - start) * 1000,
            model=self.version,
            detail=dict(contributed),
        )
        return StageResult(candidates=candidates, trace=trace)

    def _popular(self, quota: int, extra: int) -> list[tuple[int, float]]:
        # OnlineStore.popular(0) would return the whole ranking (a Redis range of 0..-1).
        return self.store.popular(quota + extra) if quota > 0 else []
