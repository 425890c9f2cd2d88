from __future__ import annotations

import pytest

from core.api import Candidate
from core.experiments import RerankOverrides
from core.settings import RerankSettings
from rerank_service.item_facts import ItemFacts
from rerank_service.policies import (
    cap_per_genre,
    freshness_boost,
    mmr,
    pin,
    popularity_debias,
    top_k,
    trending_boost,
)
from rerank_service.reranker import Reranker

FACTS = ItemFacts(
    genres={1: ["Drama"], 2: ["Drama"], 3: ["Drama"], 4: ["Comedy"], 5: []},
    year={1: 2020, 2: 2010, 3: 2020, 4: 2000},
    popularity={1: 1.0, 2: 0.5, 3: 0.0, 4: 0.2, 5: 0.0},
    newest_year=2020,
)
OFF = RerankSettings(mmr_lambda=1.0, freshness_weight=0.0, trending_weight=0.0)


def _ranked(*ids: int) -> list[Candidate]:
    return [Candidate(item_id=i, score=1.0 - i / 10) for i in ids]


def _ids(candidates: list[Candidate]) -> list[int]:
    return [c.item_id for c in candidates]


def test_genre_cap_defers_extra_items_instead_of_dropping_them() -> None:
    assert _ids(cap_per_genre(_ranked(1, 2, 3, 4, 5), FACTS.genres, 2)) == [1, 2, 4, 5, 3]
    assert _ids(cap_per_genre(_ranked(3, 1, 2), FACTS.genres, 0)) == [3, 1, 2]


def test_freshness_halves_per_half_life_and_is_recorded() -> None:
    boosted = freshness_boost(_ranked(1, 2, 5), FACTS, weight=0.2, half_life_years=10)
    assert [c.contributions["freshness"] for c in boosted] == [0.2, 0.1, 0.0]
    assert boosted[1].score == 0.8 + 0.1


def test_popularity_debias_lets_the_long_tail_overtake() -> None:
    out = popularity_debias(_ranked(1, 3), FACTS, weight=0.5)
    assert out[0].contributions["popularity"] == -0.5
    assert sorted(out, key=lambda c: -c.score)[0].item_id == 3


def test_mmr_trades_score_for_genre_variety() -> None:
    assert _ids(mmr(_ranked(1, 2, 3, 4), FACTS, lam=1.0, k=3)) == [1, 2, 3]
    diverse = mmr(_ranked(1, 2, 3, 4), FACTS, lam=0.5, k=2)
    assert _ids(diverse) == [1, 4]
    assert diverse[1].contributions["mmr"] == 0.0


def test_pins_take_their_positions_even_when_not_recalled() -> None:
    assert _ids(pin(_ranked(1, 2, 3), {42: 0, 3: 1}, k=3)) == [42, 3, 1]
    assert _ids(pin(_ranked(1, 2, 3), {42: 7}, k=3)) == [1, 2, 3]


def test_top_k_drops_duplicates() -> None:
    assert _ids(top_k(_ranked(1, 1, 2, 3), 2)) == [1, 2]


def test_reranker_applies_request_exclusions_and_business_rules() -> None:
    settings = OFF.model_copy(update={"exclude_items": [2], "pinned_items": {5: 0}})
    result = Reranker(settings, FACTS).rerank(_ranked(1, 2, 3, 4), 3, excluded=[3])
    assert _ids(result.candidates) == [5, 1, 4]
    assert result.trace.stage == "rerank"
    assert (result.trace.candidates_in, result.trace.candidates_out) == (4, 3)
    assert result.trace.detail["excluded"] == 2


def test_a_context_genre_lifts_its_items_to_the_top() -> None:
    result = Reranker(OFF, FACTS).rerank(_ranked(1, 2, 4, 5), 2, genre="Comedy")
    assert _ids(result.candidates) == [4, 1]
    # One more than the spread of the scores, 0.9 - 0.5.
    assert result.candidates[0].contributions["context_genre"] == pytest.approx(1.4)


def test_a_variants_overrides_change_only_that_request() -> None:
    reranker = Reranker(OFF, FACTS)
    with_cap = RerankOverrides(max_per_genre=1)
    assert _ids(reranker.rerank(_ranked(1, 2, 3, 4), 2, overrides=with_cap).candidates) == [1, 4]
    assert _ids(reranker.rerank(_ranked(1, 2, 3, 4), 2).candidates) == [1, 2]


def test_a_context_genre_stays_on_top_of_a_strong_trending_bonus() -> None:
    facts = ItemFacts(
        genres={1: ["Drama"], 4: ["Comedy"]},
        year={},
        popularity={},
        newest_year=0,
        trending={1: 1.0, 4: 0.0},
    )
    hot = OFF.model_copy(update={"trending_weight": 5.0})
    result = Reranker(hot, facts).rerank(_ranked(1, 4), 2, genre="Comedy")
    assert _ids(result.candidates) == [4, 1]


def test_trending_adds_its_weight_times_how_hot_the_item_is() -> None:
    facts = ItemFacts(genres={}, year={}, popularity={}, newest_year=0, trending={1: 1.0, 2: 0.5})
    boosted = trending_boost(_ranked(1, 2, 3), facts, weight=0.4)
    assert [c.contributions["trending"] for c in boosted] == [0.4, 0.2, 0.0]
    assert [round(c.score, 6) for c in boosted] == [1.3, 1.0, 0.7]
    assert trending_boost(_ranked(1, 2), facts, weight=0.0) == _ranked(1, 2)


def test_a_trending_weight_lets_a_hot_item_overtake_a_better_scored_one() -> None:
    facts = ItemFacts(genres={}, year={}, popularity={}, newest_year=0, trending={3: 1.0})
    quiet = Reranker(OFF, facts).rerank(_ranked(1, 3), k=2).candidates
    hot = Reranker(OFF.model_copy(update={"trending_weight": 0.5}), facts)
    assert _ids(quiet) == [1, 3]
    assert _ids(hot.rerank(_ranked(1, 3), k=2).candidates) == [3, 1]
