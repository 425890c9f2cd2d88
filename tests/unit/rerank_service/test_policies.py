from __future__ import annotations

from core.api import Candidate
from core.settings import RerankSettings
from rerank_service.policies import cap_per_genre, top_k
from rerank_service.reranker import Reranker

GENRES = {1: ["Drama"], 2: ["Drama"], 3: ["Drama"], 4: ["Comedy"], 5: []}


def _ranked(*ids: int) -> list[Candidate]:
    return [Candidate(item_id=i, score=1.0 - i / 10) for i in ids]


def test_genre_cap_defers_extra_items_instead_of_dropping_them() -> None:
    out = cap_per_genre(_ranked(1, 2, 3, 4, 5), GENRES, max_per_genre=2)
    assert [c.item_id for c in out] == [1, 2, 4, 5, 3]


def test_genre_cap_of_zero_keeps_the_order() -> None:
    assert [c.item_id for c in cap_per_genre(_ranked(3, 1, 2), GENRES, 0)] == [3, 1, 2]


def test_top_k_drops_duplicates() -> None:
    assert [c.item_id for c in top_k(_ranked(1, 1, 2, 3), 2)] == [1, 2]


def test_reranker_returns_k_items_and_a_trace() -> None:
    result = Reranker(RerankSettings(max_per_genre=1), GENRES).rerank(_ranked(1, 2, 3, 4), 3)
    assert [c.item_id for c in result.candidates] == [1, 4, 2]
    assert result.trace.stage == "rerank"
    assert (result.trace.candidates_in, result.trace.candidates_out) == (4, 3)
