"""The rerank stage's logic: policies applied in order over the ranked candidates."""

from __future__ import annotations

import time

import numpy as np

from core.api import NEW_ARRIVALS_ROUTE, Candidate, Candidates, StageResult, StageTrace
from core.experiments import RerankOverrides
from core.settings import RerankSettings
from rerank_service.item_facts import ItemFacts
from rerank_service.policies import (
    Adjustment,
    GenreMatrix,
    cap_per_genre,
    context_genre_boost,
    freshness_boost,
    mmr,
    pin,
    place_arrivals,
    popularity_debias,
    top_k,
    trending_boost,
)


class Reranker:
    """Turns a ranked candidate list into the final k items.

    Order: business exclusions, score adjustments (trending, freshness, popularity debias, then
    the context genre above them all), MMR selection, the per-genre cap, the new arrivals'
    reserved places, then pinned positions.
    The adjustments and MMR run over arrays of the whole pool; only the items MMR picks become
    Candidate objects.
    """

    def __init__(self, settings: RerankSettings, facts: ItemFacts) -> None:
        self.settings = settings
        self.facts = facts
        self.genres = GenreMatrix(facts.genres)

    def rerank(
        self,
        ranked: Candidates,
        k: int,
        excluded: list[int] | None = None,
        genre: str | None = None,
        overrides: RerankOverrides | None = None,
    ) -> StageResult:
        """The final k items; `overrides` are an A/B variant's changes to the policy settings."""
        started = time.perf_counter()
        s = self.settings.with_overrides(overrides)
        blocked = set(s.exclude_items) | set(excluded or [])
        pool = ranked.without(blocked)
        ids = np.array(pool.item_ids, dtype=np.int64)
        scores = np.array(pool.scores, dtype=np.float64)
        adjustments: list[Adjustment] = []
        for adjustment in (
            trending_boost(ids, self.facts, s.trending_weight),
            freshness_boost(ids, self.facts, s.freshness_weight, s.freshness_half_life_years),
            popularity_debias(ids, self.facts, s.popularity_debias),
        ):
            if adjustment is not None:
                scores = scores + adjustment.delta
                adjustments.append(adjustment)
        lift = context_genre_boost(ids, scores, self.facts, genre)
        if lift is not None:
            scores = scores + np.where(lift.applies, lift.delta, 0.0)
            adjustments.append(lift)
        # MMR picks a reserve beyond k so that the genre cap can still fill k slots.
        reserve = k * 2 if s.max_per_genre else k
        picked, penalties = mmr(scores, self.genres.of(ids), s.mmr_lambda, reserve)
        chosen = [
            self._candidate(pool, int(p), float(scores[p]), adjustments) for p in picked.tolist()
        ]
        if penalties is not None:
            for candidate, penalty in zip(chosen, penalties.tolist(), strict=True):
                candidate.contributions["mmr"] = penalty
        chosen = cap_per_genre(chosen, self.facts.genres, s.max_per_genre)
        chosen = place_arrivals(
            chosen,
            self._arrivals(pool, scores, adjustments),
            s.new_item_slots,
            s.new_item_position,
        )
        pins = {i: p for i, p in s.pinned_items.items() if i not in blocked}
        final = top_k(pin(chosen, pins, k), k)
        trace = StageTrace(
            stage="rerank",
            candidates_in=len(ranked),
            candidates_out=len(final),
            ms=(time.perf_counter() - started) * 1000,
            detail={
                "excluded": len(ranked) - len(pool),
                "mmr_lambda": s.mmr_lambda,
                "max_per_genre": s.max_per_genre,
            },
        )
        return StageResult(candidates=Candidates.of(final), trace=trace)

    def _arrivals(
        self, pool: Candidates, scores: np.ndarray, adjustments: list[Adjustment]
    ) -> list[Candidate]:
        """The pool's new arrivals (the recall route of items no features build has seen),
        best adjusted score first."""
        found = [p for p, routes in enumerate(pool.routes) if NEW_ARRIVALS_ROUTE in routes]
        found.sort(key=lambda p: -scores[p])
        return [self._candidate(pool, p, float(scores[p]), adjustments) for p in found]

    @staticmethod
    def _candidate(
        pool: Candidates, position: int, score: float, adjustments: list[Adjustment]
    ) -> Candidate:
        contributions = dict(pool.contributions[position]) if pool.contributions else {}
        for adjustment in adjustments:
            if adjustment.applies is None or adjustment.applies[position]:
                contributions[adjustment.policy] = float(adjustment.delta[position])
        return Candidate(
            item_id=pool.item_ids[position],
            score=score,
            routes=pool.routes[position],
            contributions=contributions,
        )
