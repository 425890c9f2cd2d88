"""Candidate generation for one user: every recall route, merged."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from core.api import (
    NEW_ARRIVALS_ROUTE,
    Candidates,
    ProfileLookup,
    RecallResult,
    StageTrace,
)
from core.online_store import UserState
from core.settings import Settings
from recall_service.index.item_attributes import ItemFilter
from recall_service.serving.genre_popularity import GenrePopularity, genre_route
from recall_service.serving.merge import RouteHits, merge_routes
from recall_service.serving.new_arrivals import NewArrivals
from recall_service.serving.routes import (
    ItemIndex,
    embedding_route,
    item_to_item_route,
    popular_scores,
)
from recall_service.serving.user_vectors import MeanOfRecentItems, UserVectors

EMBEDDING = "embedding"
ITEM_TO_ITEM = "item_to_item"
ITEM_CF = "item_cf"
POPULAR = "popular"
TRENDING = "trending"
GENRE = "genre"
NEW = NEW_ARRIVALS_ROUTE


class OnlineFeatures(Protocol):
    """The online-store reads recall needs (core.online_store.OnlineStore provides them)."""

    def user_state(self, user_id: int) -> UserState: ...

    def popular(self, n: int) -> list[tuple[int, float]]: ...

    def trending(self, n: int) -> list[tuple[int, float]]: ...


class Recaller:
    """Recall with one embedding model; `version` labels it in traces, e.g. "item2vec:v1".

    `genres` holds each genre's popular items (loaded at replica start); without it the genre
    route proposes nothing; likewise `arrivals` for the new-arrivals route. `user_vectors`
    makes the embedding route's query (the two-tower's user tower); by default it is the mean
    vector of the user's recent items.
    """

    def __init__(
        self,
        index: ItemIndex,
        store: OnlineFeatures,
        settings: Settings,
        version: str,
        genres: GenrePopularity | None = None,
        user_vectors: UserVectors | None = None,
        arrivals: NewArrivals | None = None,
    ) -> None:
        self.index = index
        self.store = store
        self.settings = settings
        self.version = version
        self.genres = genres or GenrePopularity({})
        # Not `arrivals or ...`: an empty NewArrivals is falsy, and the replica fills it later.
        self.arrivals = NewArrivals(()) if arrivals is None else arrivals
        self.user_vectors = user_vectors or MeanOfRecentItems(index, settings.recall.recent_items)

    def recall(self, user_id: int, genre: str | None = None) -> RecallResult:
        """Unseen candidates of every route, merged. A user without history gets popular items
        and, when `genre` is given, that genre's best items; `genre` also leads a known user's
        own top genres and keeps the embedding route to items of that genre. The profile read
        for this comes back with the result, for Rank and the Gateway's cold-start flag."""
        start = time.perf_counter()
        quotas = self.settings.recall
        state = self.store.user_state(user_id)
        seen, profile = state.seen, state.profile
        user = ProfileLookup(profile=profile)
        recent = profile.user_recent_items if profile else []
        top_genres = ([genre] if genre else []) + (profile.user_genres if profile else [])
        # The two-tower's user vector costs a forward pass: only made when the route is on.
        query = (
            self.user_vectors.vector(profile, state.history) if quotas.embedding_quota > 0 else None
        )

        # Seen items are left out inside the vector searches, up to `max_excluded` of them;
        # each route is asked for as many more items as may still be seen, so filtering leaves
        # it its full quota. A route with no quota is not asked at all.
        excluded = frozenset(itertools.islice(seen, quotas.max_excluded))
        unexcluded = len(seen) - len(excluded)

        def ask(quota: int, more: int = unexcluded) -> int:
            return quota + more if quota > 0 else 0

        unseen = ItemFilter(genre=genre, exclude=excluded)
        routes = [
            RouteHits(
                EMBEDDING,
                embedding_route(
                    self.index,
                    query,
                    ask(quotas.embedding_quota),
                    None if unseen.empty else unseen,
                ),
                quotas.embedding_quota,
            ),
            RouteHits(
                ITEM_CF,
                # Item-CF weights know no genres: browsing a genre leaves it to the other routes.
                self.user_vectors.collaborative(state.history, quotas.item_cf_quota, seen)
                if genre is None
                else [],
                quotas.item_cf_quota,
            ),
            RouteHits(
                ITEM_TO_ITEM,
                item_to_item_route(
                    self.index,
                    recent[: quotas.item_to_item_seeds],
                    ask(quotas.item_to_item_quota),
                    ItemFilter(exclude=excluded),
                ),
                quotas.item_to_item_quota,
            ),
            *self._popularity_routes(len(seen)),
            *self._genre_routes(top_genres, seen),
        ]
        candidates, contributed = merge_routes(routes, seen)
        self._add_affinity(candidates, query, state.history)
        candidates = best_by_affinity(candidates, quotas.max_candidates, kept_route=NEW)
        trace = StageTrace(
            stage="recall",
            candidates_in=0,
            candidates_out=len(candidates),
            ms=(time.perf_counter() - start) * 1000,
            model=self.version,
            # Shown in the debug trace only; callers read `user.history_len`.
            detail={**contributed, "history": user.history_len},
        )
        return RecallResult(candidates=candidates, trace=trace, user=user)

    def _add_affinity(
        self, candidates: Candidates, query: np.ndarray | None, history: Sequence[int]
    ) -> None:
        """The embedding model's score of every candidate, whichever route proposed it, so that
        the ranker weighs the user's affinity to popular and genre items as well."""
        if query is None or len(candidates) == 0:
            return
        affinity = self.user_vectors.affinity(query, history, candidates.item_ids)
        if affinity is not None:
            candidates.affinity = affinity
            candidates.affinity_model = self.version

    def _genre_routes(self, top_genres: list[str], seen: set[int]) -> list[RouteHits]:
        """The popular items of the user's top genres, and the new arrivals of those genres."""
        quotas = self.settings.recall
        return [
            RouteHits(
                GENRE,
                genre_route(self.genres, top_genres, quotas.genre_quota, seen),
                quotas.genre_quota,
            ),
            RouteHits(
                NEW,
                self.arrivals.route(top_genres, quotas.new_item_quota, seen),
                quotas.new_item_quota,
            ),
        ]

    def _popularity_routes(self, seen: int) -> list[RouteHits]:
        """The published popularity ranking and what live events made popular in the last hour
        (ahead of the next features build), each asked for `seen` more items than its quota
        since seen items are filtered out after."""
        quotas = self.settings.recall
        # OnlineStore.popular(0) would return the whole ranking (a Redis range of 0..-1).
        popular = self.store.popular(quotas.popular_quota + seen) if quotas.popular_quota else []
        live = quotas.trending_quota
        trending = self.store.trending(live + seen) if live else []
        return [
            RouteHits(POPULAR, popular_scores(popular), quotas.popular_quota),
            RouteHits(TRENDING, popular_scores(trending), quotas.trending_quota),
        ]


def best_by_affinity(
    candidates: Candidates, limit: int, kept_route: str | None = None
) -> Candidates:
    """The `limit` candidates of highest affinity (those without one last, in merged order),
    in merged order; all of them when `limit` is 0 or they are fewer. Ranking and reranking
    cost grows with the candidates, and the final order leans on affinity: what ranks low on
    it rarely ends in the first k. Candidates of `kept_route` are kept beyond `limit`: new
    arrivals have no vector, so affinity cannot judge them, and their route's quota bounds
    them."""
    if limit == 0 or len(candidates) <= limit or not candidates.affinity:
        return candidates
    keys = np.array([-np.inf if a is None else a for a in candidates.affinity])
    best = np.argsort(-keys, kind="stable")[:limit]
    kept_too = [i for i, names in enumerate(candidates.routes) if kept_route in names]
    kept = np.union1d(best, np.array(kept_too, dtype=np.int64))
    return candidates.take(kept.tolist())
