"""The Gateway: FastAPI ingress that chains Recall -> Rank -> Rerank.

No `from __future__ import annotations` here: FastAPI must see real types on the routes of a
Serve ingress class, or it takes `response: Response` for a query parameter.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import redis
from fastapi import FastAPI, HTTPException, Query
from ray import serve
from ray.serve.handle import DeploymentHandle

from cluster.app.api_keys import ApiKeys, Scope
from cluster.app.auth import CallerScope, WriteScope
from cluster.app.catalog import Catalog, CatalogItem
from cluster.app.catalog_routes import router as catalog_router
from cluster.app.catalog_sync import CatalogSync
from cluster.app.health import HealthCheck, redis_answers, redis_unavailable, serve_deployments
from cluster.app.impression_log import ImpressionLog
from cluster.app.live_events import RejectedEventsError, accept_events
from cluster.app.live_stats import LiveStats, TrackedCall
from cluster.app.metrics import GatewayMetrics
from cluster.app.monitoring_routes import router as monitoring_router
from cluster.app.ops_routes import router as ops_router
from cluster.app.site_routes import router as site_router
from cluster.app.site_session_routes import router as site_session_router
from cluster.app.stage_chain import ChainRequest, ChainStages, run_chain
from cluster.app.user_routes import router as user_router
from core.api import (
    Candidates,
    ProfileLookup,
    RecommendedItem,
    RecommendRequest,
    RecommendResponse,
    SimilarItem,
    SimilarItems,
    SimilarResponse,
    StageTrace,
)
from core.event_api import EventBatch, EventsAccepted
from core.events import impressions
from core.experiments import Assignment, UnknownVariantError, assign
from core.online_catalog import OnlineCatalog
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.redis_breaker import breaker_of, serving_store
from core.settings import Settings

api = FastAPI(
    title="Starling",
    description="Recommendations from recall, rank and rerank on Ray Serve.",
    version="0.1.0",
)
api.include_router(ops_router)
api.include_router(monitoring_router)
api.include_router(catalog_router)
api.include_router(user_router)
api.include_router(site_router)
api.include_router(site_session_router)


# Module-level helpers of the routes must come before the class: @serve.ingress pickles the
# FastAPI app (and the globals its routes use) when the class is decorated.
def _now() -> datetime:
    return datetime.now(UTC)


@serve.deployment
@serve.ingress(api)
class Gateway:
    def __init__(
        self,
        settings: Settings,
        recall: DeploymentHandle,
        rank: DeploymentHandle,
        rerank: DeploymentHandle,
        lander: DeploymentHandle,
        learner: DeploymentHandle,
    ) -> None:
        self.settings = settings
        self.recall = recall
        self.rank = rank
        self.rerank = rerank
        self.lander = lander
        # Bound here so that the app deploys its Learner (the online update on a schedule).
        self.learner = learner
        self.store: OnlineStore = serving_store(settings)
        self._breaker = breaker_of(self.store.client)
        self.metrics = GatewayMetrics()
        self.impressions = ImpressionLog(self.store, self.metrics.impressions_lost)
        self.online_catalog = OnlineCatalog(self.store.client)
        catalog = Catalog.load(StarlingPaths.of(settings))
        # Recall's fallback comes from memory: reading it from Redis failed with the recall it
        # stood in for whenever Redis was the reason.
        self._popular_ranking = catalog.popular()
        self._catalog = CatalogSync(catalog, self.online_catalog)
        self.health = HealthCheck(serve_deployments, lambda: redis_answers(self.store))
        self.api_keys = ApiKeys.from_settings(settings)
        self._rank_by_model: dict[str, DeploymentHandle] = {}
        self.live = LiveStats()

    @property
    def catalog(self) -> Catalog:
        """The catalogue, with the entries put online on any replica (checked once a second)."""
        return self._catalog.current()

    @api.post("/recommend", response_model=RecommendResponse, response_model_exclude_none=True)
    async def recommend(self, request: RecommendRequest, scope: CallerScope) -> RecommendResponse:
        """The user's top k items; a user never seen before gets popular items. Each user is
        in one variant of every A/B experiment; an admin key may force `variants`."""
        if request.k > self.settings.max_k:
            raise HTTPException(422, f"k must be at most {self.settings.max_k}")
        if request.variants and scope != Scope.ADMIN:
            raise HTTPException(403, "forcing variants needs an admin API key")
        try:
            assignment = assign(self.settings.experiments, request.user_id, request.variants)
        except UnknownVariantError as error:
            raise HTTPException(422, str(error)) from None
        with self.live.track("Gateway"):
            return await self._recommend(request, assignment)

    async def _recommend(
        self, request: RecommendRequest, assignment: Assignment
    ) -> RecommendResponse:
        started = time.perf_counter()
        chain = await run_chain(
            self._stages(assignment),
            ChainRequest(
                user_id=request.user_id,
                k=request.k,
                exclude=request.exclude,
                genre=request.genre,
                rerank_overrides=assignment.rerank,
                timeout_s=self.settings.stage_timeout_s,
            ),
        )
        items = [
            RecommendedItem(
                item_id=c.item_id,
                title=self._item(c.item_id).title,
                genres=self._item(c.item_id).genres,
                score=c.score,
                routes=c.routes if request.debug else None,
                contributions=c.contributions if request.debug else None,
            )
            for c in chain.candidates.as_list()
        ]
        seconds = time.perf_counter() - started
        self.metrics.recommended(
            chain.traces, chain.degraded, len(items), seconds, assignment.variants
        )
        request_id = uuid.uuid4().hex
        self._log_impressions(request_id, request.user_id, [i.item_id for i in items], assignment)
        trace = None
        if request.debug:
            total = StageTrace(
                stage="total", candidates_in=0, candidates_out=len(items), ms=seconds * 1000
            )
            trace = [*chain.traces, total]
        return RecommendResponse(
            user_id=request.user_id,
            items=items,
            cold_start=await self._cold_start(request.user_id, chain.user),
            degraded=[*chain.degraded, *self._redis_degraded()],
            trace=trace,
            request_id=request_id,
            variants=assignment.variants,
        )

    def _stages(self, assignment: Assignment) -> ChainStages:
        """The deployments' calls, tracked; Rank's bound to the variant's model (multiplexing)."""
        model = assignment.rank_model
        if model and model not in self._rank_by_model:
            self._rank_by_model[model] = self.rank.options(multiplexed_model_id=model)
        rank = self._rank_by_model[model] if model else self.rank
        return ChainStages(
            recall=TrackedCall(self.live, "Recall", self.recall.recall),
            rank=TrackedCall(self.live, "Rank", rank.rank),
            rerank=TrackedCall(self.live, "Rerank", self.rerank.rerank),
            popular=self._popular,
        )

    async def _cold_start(self, user_id: int, user: ProfileLookup | None) -> bool:
        """No recent items; Recall read the profile, or when it degraded it is read here.
        While Redis is down nothing is known of the user: not called a cold start."""
        if user is None:
            try:
                profile = await asyncio.to_thread(self.store.profile, user_id)
            except redis.RedisError:
                return False
            user = ProfileLookup(profile=profile)
        return user.history_len == 0

    def _redis_degraded(self) -> list[str]:
        return ["online_store"] if self._breaker is not None and self._breaker.is_open else []

    def _log_impressions(
        self, request_id: str, user_id: int, items: list[int], assignment: Assignment
    ) -> None:
        self.impressions.add(impressions(request_id, user_id, items, assignment.variants, _now()))

    async def __del__(self) -> None:
        # Serve calls this when it stops the replica: queued impressions are written first.
        impressions = getattr(self, "impressions", None)
        if impressions is not None:
            await impressions.drain()
            impressions.close()

    @api.post("/events", response_model=EventsAccepted)
    async def events(self, batch: EventBatch, _scope: WriteScope) -> EventsAccepted:
        """Record user events (needs a write API key). They reach the event stream, which
        lands in the lake, and the user's online state at once: rated, clicked and viewed items
        are not recommended again, and each of them steers the user's next recommendations."""
        try:
            accepted = accept_events(batch, self.catalog.items, self.settings.data, _now())
        except RejectedEventsError as error:
            raise HTTPException(422, str(error)) from None
        try:
            recorded = await asyncio.to_thread(
                self.store.record_events,
                accepted,
                self.settings.data,
                self.settings.recall.recent_items,
                self.settings.stream.event_id_window_s,
            )
        except redis.RedisError:
            self.metrics.answered("events", 503)
            # Refused or never sent: nothing recorded. Sent to a hung Redis: applied when it
            # wakes, so a client that sends it again records it twice unless it named its
            # events (event_id).
            raise redis_unavailable() from None
        self.metrics.events_recorded(len(recorded), len(accepted) - len(recorded))
        return EventsAccepted(
            accepted=len(recorded),
            duplicates=len(accepted) - len(recorded),
            event_ids=[e.event_id for e in accepted],
        )

    def _popular(self, n: int) -> Candidates:
        ranking = self._popular_ranking[:n]
        return Candidates(
            item_ids=[item for item, _ in ranking],
            scores=[score for _, score in ranking],
            routes=[["popular"] for _ in ranking],
        )

    def _item(self, item_id: int) -> CatalogItem:
        return self.catalog.get(item_id) or CatalogItem(
            item_id=item_id, title="", genres=[], year=None
        )

    @api.get("/items/{item_id}/similar", response_model=SimilarResponse)
    async def similar(
        self,
        item_id: int,
        k: int = Query(10, ge=1),
        genre: str | None = None,
        min_year: int | None = Query(None, ge=0),
    ) -> SimilarResponse:
        """Items nearest to this one in the recall model's vector space, optionally only of a
        genre or from a year on; 404 when the item is unknown."""
        if k > self.settings.max_k:
            raise HTTPException(422, f"k must be at most {self.settings.max_k}")
        found = self.catalog.get(item_id)
        if found is None:
            raise HTTPException(404, f"no item {item_id}")
        answer: SimilarItems = await self.recall.similar.remote(item_id, k, genre, min_year)
        if answer.embedded:
            scored = [(self._item(c.item_id), c.score) for c in answer.items]
            source = "embedding"
        else:
            scored = [(i, 0.0) for i in self.catalog.stand_ins(found, k, genre, min_year)]
            source = "genre_popular"
        return SimilarResponse(
            item_id=item_id,
            items=[
                SimilarItem(
                    item_id=i.item_id, title=i.title, genres=i.genres, year=i.year, score=score
                )
                for i, score in scored
            ],
            source=source,
            model=answer.model,
        )
