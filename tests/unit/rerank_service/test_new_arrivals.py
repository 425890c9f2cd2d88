from core.api import Candidate, Candidates
from core.online_catalog import ItemEntry
from core.settings import RerankSettings
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker

FRESH_ONLY = RerankSettings(
    mmr_lambda=1.0, freshness_weight=0.5, freshness_half_life_years=1.0, trending_weight=0.0
)


def _facts() -> ItemFacts:
    return ItemFacts(
        genres={1: ["Drama"], 2: ["Drama"]},
        year={1: 1990, 2: 2020},
        popularity={1: 1.0, 2: 0.5},
        newest_year=2020,
    )


def _ranked(*ids: int) -> Candidates:
    return Candidates.of([Candidate(item_id=i, score=1.0 - n / 10) for n, i in enumerate(ids)])


def test_an_item_put_online_gets_the_freshness_of_its_year_and_its_genres_at_once() -> None:
    facts = _facts()
    reranker = Reranker(FRESH_ONLY, facts)
    before = reranker.rerank(_ranked(1, 100), 2).candidates.as_list()
    assert [c.item_id for c in before] == [1, 100]

    facts.add_entries({100: ItemEntry(title="New", genres=["War"], year=2020)})

    after = reranker.rerank(_ranked(1, 100), 2).candidates.as_list()
    assert [c.item_id for c in after] == [100, 1]
    assert after[0].contributions["freshness"] == 0.5
    # Browsing its genre puts it first on its genre alone.
    plain = Reranker(FRESH_ONLY.model_copy(update={"freshness_weight": 0.0}), facts)
    browsing_war = plain.rerank(_ranked(1, 100), 2, genre="War").candidates.as_list()
    assert [c.item_id for c in browsing_war] == [100, 1]


def test_a_re_put_entry_without_a_year_loses_its_freshness() -> None:
    facts = _facts()
    facts.add_entries({2: ItemEntry(title="Re-dated", genres=["Drama"])})
    assert 2 not in facts.year and facts.genres[2] == ["Drama"]


def _with_routes(*pairs: tuple[int, str]) -> Candidates:
    return Candidates.of(
        [Candidate(item_id=i, score=1.0 - n / 10, routes=[r]) for n, (i, r) in enumerate(pairs)]
    )


def test_the_best_new_arrival_gets_the_reserved_place_ranking_would_not_give_it() -> None:
    settings = FRESH_ONLY.model_copy(
        update={"freshness_weight": 0.0, "new_item_slots": 1, "new_item_position": 1}
    )
    pool = _with_routes((1, "popular"), (2, "popular"), (3, "popular"), (100, "new"), (101, "new"))

    final = Reranker(settings, _facts()).rerank(pool, 3).candidates.as_list()

    assert [c.item_id for c in final] == [1, 100, 2]
    assert "new_arrival" in final[1].contributions
    off = Reranker(settings.model_copy(update={"new_item_slots": 0}), _facts())
    assert [c.item_id for c in off.rerank(pool, 3).candidates.as_list()] == [1, 2, 3]
    # Without arrivals nothing moves: the offline replay, which has none, measures the same.
    plain = _with_routes((1, "popular"), (2, "popular"), (3, "popular"))
    assert [
        c.item_id for c in Reranker(settings, _facts()).rerank(plain, 3).candidates.as_list()
    ] == [1, 2, 3]
