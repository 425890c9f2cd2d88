"""The Gateway: FastAPI ingress that chains Recall -> Rank -> Rerank.

No `from __future__ import annotations` here: FastAPI must see real types on the routes of a
Serve ingress class, or it takes `response: Response` for a query parameter.
"""

import time

from fastapi import FastAPI, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from ray import serve
from ray.serve.handle import DeploymentHandle

from cluster.catalog import BrowseOrder, Catalog, CatalogItem
from cluster.metrics import GatewayMetrics
from cluster.stage_chain import ChainResult, run_chain
from core.api import (
    Candidate,
    Health,
    RecommendedItem,
    RecommendRequest,
    RecommendResponse,
    SimilarItem,
    SimilarItems,
    SimilarResponse,
    StageTrace,
    UserHistoryItem,
    UserSummary,
)
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.settings import Settings

APP_NAME = "starling"
api = FastAPI(
    title="Starling",
    description="Recommendations from recall, rank and rerank on Ray Serve.",
    version="0.1.0",
)


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.25})
@serve.ingress(api)
class Gateway:
    def __init__(
        self,
        settings: Settings,
        recall: DeploymentHandle,
        rank: DeploymentHandle,
        rerank: DeploymentHandle,
    ) -> None:
        self.settings = settings
        self.recall = recall
        self.rank = rank
        self.rerank = rerank
        self.store = OnlineStore(settings.resolved_redis_url())
        self.catalog = Catalog.load(StarlingPaths(settings.home))
        self.metrics = GatewayMetrics()

    @api.post("/recommend", response_model=RecommendResponse, response_model_exclude_none=True)
    async def recommend(self, request: RecommendRequest) -> RecommendResponse:
        """The user's top k items; a user never seen before gets popular items."""
        if request.k > self.settings.max_k:
            raise HTTPException(422, f"k must be at most {self.settings.max_k}")
        started = time.perf_counter()
        profile = self.store.profile(request.user_id)
        chain = await run_chain(
            self.recall.recall,
            self.rank.rank,
            self.rerank.rerank,
            self._popular,
            request.user_id,
            request.k,
            request.exclude,
            self.settings.stage_timeout_s,
            request.genre,
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
            for c in chain.candidates
        ]
        seconds = time.perf_counter() - started
        self._observe(chain, len(items), seconds)
        trace = None
        if request.debug:
            total = StageTrace(
                stage="total", candidates_in=0, candidates_out=len(items), ms=seconds * 1000
            )
            trace = [*chain.traces, total]
        return RecommendResponse(
            user_id=request.user_id,
            items=items,
            cold_start=profile is None or not profile.user_recent_items,
            degraded=chain.degraded,
            trace=trace,
        )

    def _popular(self, n: int) -> list[Candidate]:
        return [
            Candidate(item_id=item, score=score, routes=["popular"])
            for item, score in self.store.popular(n)
        ]

    def _observe(self, chain: ChainResult, items: int, seconds: float) -> None:
        self.metrics.requests.labels(endpoint="recommend", status="200").inc()
        self.metrics.latency.observe(seconds)
        self.metrics.items.inc(items)
        for trace in chain.traces:
            self.metrics.stage_latency.labels(stage=trace.stage).observe(trace.ms / 1000)
        for stage in chain.degraded:
            self.metrics.degraded.labels(stage=stage).inc()

    @api.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(self) -> PlainTextResponse:
        """Prometheus text format: requests, latency per stage, items served, degradations."""
        return PlainTextResponse(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def _item(self, item_id: int) -> CatalogItem:
        return self.catalog.get(item_id) or CatalogItem(
            item_id=item_id, title="", genres=[], year=None
        )

    @api.get("/items/{item_id}", response_model=CatalogItem)
    async def item(self, item_id: int) -> CatalogItem:
        """One catalog item with its rating statistics; 404 when unknown."""
        found = self.catalog.get(item_id)
        if found is None:
            raise HTTPException(404, f"no item {item_id}")
        return found

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
            scored = [(i, 0.0) for i in self._genre_stand_ins(found, k, genre, min_year)]
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

    def _genre_stand_ins(
        self, item: CatalogItem, k: int, genre: str | None, min_year: int | None
    ) -> list[CatalogItem]:
        """Popular items sharing the item's first genre (or `genre`), for an item the model has
        no vector for (too few ratings to learn one)."""
        wanted = genre or (item.genres[0] if item.genres else None)
        return [
            i
            for i in self.catalog.browse(wanted, "popularity", len(self.catalog.items), 0)
            if i.item_id != item.item_id and (min_year is None or (i.year or 0) >= min_year)
        ][:k]

    @api.get("/items", response_model=list[CatalogItem])
    async def browse(
        self,
        genre: str | None = None,
        sort: BrowseOrder = "popularity",
        limit: int = Query(20, ge=1, le=500),
        min_ratings: int = Query(10, ge=0),
    ) -> list[CatalogItem]:
        """Browse the catalog by genre, best first by rating, year or popularity."""
        return self.catalog.browse(genre, sort, limit, min_ratings)

    @api.get("/users/{user_id}", response_model=UserSummary)
    async def user(self, user_id: int) -> UserSummary:
        """A user's rating statistics, favourite genres and recent positives; 404 when unknown."""
        profile = self.store.profile(user_id)
        if profile is None:
            raise HTTPException(404, f"no user {user_id}")
        return UserSummary(
            user_id=user_id,
            rating_count=profile.user_rating_count,
            avg_rating=profile.user_avg_rating,
            rating_stddev=profile.user_rating_stddev,
            favourite_genres=profile.user_genres,
            recent_positives=[
                UserHistoryItem(item_id=i, title=self._item(i).title)
                for i in profile.user_recent_items
            ],
        )

    @api.get("/healthz", response_model=Health)
    async def healthz(self, response: Response) -> Health:
        """200 once every deployment of the app is healthy, 503 before."""
        status = serve.status().applications.get(APP_NAME)
        deployments = (
            {name: str(d.status.value) for name, d in status.deployments.items()} if status else {}
        )
        healthy = bool(deployments) and all(s == "HEALTHY" for s in deployments.values())
        response.status_code = 200 if healthy else 503
        return Health(status="ok" if healthy else "starting", deployments=deployments)
