"""The rerank stage's logic: policies applied in order over the ranked candidates."""

from __future__ import annotations

import time

from core.api import Candidate, StageResult, StageTrace
from core.experiments import RerankOverrides
from core.settings import RerankSettings
from rerank_service.item_facts import ItemFacts
from rerank_service.policies import (
    cap_per_genre,
    context_genre_boost,
    exclude,
    freshness_boost,
    mmr,
    pin,
    popularity_debias,
    top_k,
    trending_boost,
)


class Reranker:
    """Turns a ranked candidate list into the final k items.

    Order: business exclusions, score adjustments (trending, freshness, popularity debias, then
    the context genre above them all), MMR selection, the per-genre cap, then pinned positions.
    """

    def __init__(self, settings: RerankSettings, facts: ItemFacts) -> None:
        self.settings = settings
        self.facts = facts

    def rerank(
        self,
        ranked: list[Candidate],
        k: int,
        excluded: list[int] | None = None,
        genre: str | None = None,
        overrides: RerankOverrides | None = None,
    ) -> StageResult:
        """The final k items; `overrides` are an A/B variant's changes to the policy settings."""
        started = time.perf_counter()
        s = self.settings.with_overrides(overrides)
        blocked = set(s.exclude_items) | set(excluded or [])
        pool = exclude(ranked, blocked)
        pool = trending_boost(pool, self.facts, s.trending_weight)
        pool = freshness_boost(pool, self.facts, s.freshness_weight, s.freshness_half_life_years)
        pool = popularity_debias(pool, self.facts, s.popularity_debias)
        pool = context_genre_boost(pool, self.facts, genre)
        # MMR picks a reserve beyond k so that the genre cap can still fill k slots.
        reserve = k * 2 if s.max_per_genre else k
        chosen = mmr(pool, self.facts, s.mmr_lambda, reserve)
        chosen = cap_per_genre(chosen, self.facts.genres, s.max_per_genre)
        pins = {i: p for i, p in s.pinned_items.items() if i not in blocked}
        final = top_k(pin(chosen, pins, k), k)
        trace = StageTrace(
            stage="rerank",
            candidates_in=len(ranked),
            candidates_out=len(final),
            ms=(time.perf_counter() - started) * 1000,
            detail={
                "excluded": len(ranked) - len(exclude(ranked, blocked)),
                "mmr_lambda": s.mmr_lambda,
                "max_per_genre": s.max_per_genre,
            },
        )
        return StageResult(candidates=final, trace=trace)
