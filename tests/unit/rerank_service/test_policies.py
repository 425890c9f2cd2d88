from __future__ import annotations

import numpy as np
import pytest

from core.api import Candidate, Candidates
from core.experiments import RerankOverrides
from core.settings import RerankSettings
from rerank_service.item_facts import ItemFacts
from rerank_service.policies import GenreMatrix, cap_per_genre, mmr, pin, top_k
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


def _pool(*ids: int) -> Candidates:
    return Candidates.of(_ranked(*ids))


def _ids(candidates: list[Candidate]) -> list[int]:
    return [c.item_id for c in candidates]


def test_genre_cap_defers_extra_items_instead_of_dropping_them() -> None:
    assert _ids(cap_per_genre(_ranked(1, 2, 3, 4, 5), FACTS.genres, 2)) == [1, 2, 4, 5, 3]
    assert _ids(cap_per_genre(_ranked(3, 1, 2), FACTS.genres, 0)) == [3, 1, 2]


def _rerank(facts: ItemFacts = FACTS, k: int = 3, *ids: int, **settings: float) -> list[Candidate]:
    reranker = Reranker(OFF.model_copy(update=settings), facts)
    return reranker.rerank(_pool(*ids), k).candidates.as_list()


def test_freshness_halves_per_half_life_and_is_recorded() -> None:
    boosted = _rerank(FACTS, 3, 1, 2, 5, freshness_weight=0.2, freshness_half_life_years=10)
    assert _ids(boosted) == [1, 2, 5]
    assert [c.contributions["freshness"] for c in boosted] == [0.2, 0.1, 0.0]
    assert boosted[1].score == 0.8 + 0.1


def test_popularity_debias_lets_the_long_tail_overtake() -> None:
    out = _rerank(FACTS, 2, 1, 3, popularity_debias=0.5)
    assert _ids(out) == [3, 1]
    assert out[1].contributions["popularity"] == -0.5


def test_mmr_trades_score_for_genre_variety() -> None:
    assert _ids(_rerank(FACTS, 3, 1, 2, 3, 4, mmr_lambda=1.0)) == [1, 2, 3]
    diverse = _rerank(FACTS, 3, 1, 2, 3, 4, mmr_lambda=0.5)
    assert _ids(diverse) == [1, 4, 2]
    # Item 4 shares no genre with item 1; item 2 shares all of its genres with item 1.
    assert [c.contributions["mmr"] for c in diverse] == [0.0, 0.0, -0.5]


def _naive_mmr(scores: list[float], genres: list[set[str]], lam: float, k: int) -> list[int]:
    """MMR as the definition reads: every pick against every earlier pick."""
    picked: list[int] = []
    alive = sorted(range(len(scores)), key=lambda i: -scores[i])
    while alive and len(picked) < k:

        def value(i: int) -> float:
            overlaps = [
                len(genres[i] & genres[j]) / len(genres[i] | genres[j])
                if genres[i] | genres[j]
                else 0.0
                for j in picked
            ]
            return lam * scores[i] - (1 - lam) * max(overlaps, default=0.0)

        best = max(alive, key=value)
        alive.remove(best)
        picked.append(best)
    return picked


def test_mmr_over_arrays_picks_what_the_definition_picks() -> None:
    rng = np.random.default_rng(3)
    names = ["Drama", "Comedy", "Action", "Horror", "Sci-Fi"]
    item_genres = {
        i: sorted({names[g] for g in rng.integers(0, 5, rng.integers(0, 3))}) for i in range(300)
    }
    scores = rng.random(300)
    ids = np.arange(300)
    matrix = GenreMatrix(item_genres).of(ids)
    for lam in (0.3, 0.7, 0.95):
        picked, penalties = mmr(scores, matrix, lam, 20)
        expected = _naive_mmr(scores.tolist(), [set(item_genres[i]) for i in ids], lam, 20)
        assert picked.tolist() == expected
        assert penalties is not None and all(p <= 0 for p in penalties)


def test_pins_take_their_positions_even_when_not_recalled() -> None:
    assert _ids(pin(_ranked(1, 2, 3), {42: 0, 3: 1}, k=3)) == [42, 3, 1]
    assert _ids(pin(_ranked(1, 2, 3), {42: 7}, k=3)) == [1, 2, 3]


def test_top_k_drops_duplicates() -> None:
    assert _ids(top_k(_ranked(1, 1, 2, 3), 2)) == [1, 2]


def test_reranker_applies_request_exclusions_and_business_rules() -> None:
    settings = OFF.model_copy(update={"exclude_items": [2], "pinned_items": {5: 0}})
    result = Reranker(settings, FACTS).rerank(_pool(1, 2, 3, 4), 3, excluded=[3])
    assert _ids(result.candidates.as_list()) == [5, 1, 4]
    assert result.trace.stage == "rerank"
    assert (result.trace.candidates_in, result.trace.candidates_out) == (4, 3)
    assert result.trace.detail["excluded"] == 2


def test_a_context_genre_lifts_its_items_to_the_top() -> None:
    result = Reranker(OFF, FACTS).rerank(_pool(1, 2, 4, 5), 2, genre="Comedy")
    assert _ids(result.candidates.as_list()) == [4, 1]
    # One more than the spread of the scores, 0.9 - 0.5.
    assert result.candidates.as_list()[0].contributions["context_genre"] == pytest.approx(1.4)


def test_a_variants_overrides_change_only_that_request() -> None:
    reranker = Reranker(OFF, FACTS)
    with_cap = RerankOverrides(max_per_genre=1)
    assert _ids(reranker.rerank(_pool(1, 2, 3, 4), 2, overrides=with_cap).candidates.as_list()) == [
        1,
        4,
    ]
    assert _ids(reranker.rerank(_pool(1, 2, 3, 4), 2).candidates.as_list()) == [1, 2]


def test_a_context_genre_stays_on_top_of_a_strong_trending_bonus() -> None:
    facts = ItemFacts(
        genres={1: ["Drama"], 4: ["Comedy"]},
        year={},
        popularity={},
        newest_year=0,
        trending={1: 1.0, 4: 0.0},
    )
    hot = OFF.model_copy(update={"trending_weight": 5.0})
    result = Reranker(hot, facts).rerank(_pool(1, 4), 2, genre="Comedy")
    assert _ids(result.candidates.as_list()) == [4, 1]


def test_trending_adds_its_weight_times_how_hot_the_item_is() -> None:
    facts = ItemFacts(genres={}, year={}, popularity={}, newest_year=0, trending={1: 1.0, 2: 0.5})
    boosted = _rerank(facts, 3, 1, 2, 3, trending_weight=0.4)
    assert [c.contributions["trending"] for c in boosted] == [0.4, 0.2, 0.0]
    assert [round(c.score, 6) for c in boosted] == [1.3, 1.0, 0.7]
    assert all("trending" not in c.contributions for c in _rerank(facts, 2, 1, 2))


def test_a_trending_weight_lets_a_hot_item_overtake_a_better_scored_one() -> None:
    facts = ItemFacts(genres={}, year={}, popularity={}, newest_year=0, trending={3: 1.0})
    quiet = Reranker(OFF, facts).rerank(_pool(1, 3), k=2).candidates.as_list()
    hot = Reranker(OFF.model_copy(update={"trending_weight": 0.5}), facts)
    assert _ids(quiet) == [1, 3]
    assert _ids(hot.rerank(_pool(1, 3), k=2).candidates.as_list()) == [3, 1]
