"""The Recaller with a recall model that scores items (the item bag): the affinity every
candidate carries and the item-CF route."""

from collections.abc import Collection, Sequence

import numpy as np
import pytest

from core.api import Candidates
from core.online_store import UserProfile
from core.settings import RecallSettings, Settings
from recall_service.serving.recaller import Recaller, best_by_affinity
from tests.support.recall_fakes import POPULAR, VECTORS, FakeIndex, FakeStore


class ScoringVectors:
    """A user-vector source whose model scores items (as the item bag does): item i's
    affinity is i / 10, unknown above 8."""

    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray:
        self.history = list(history)
        return np.array([1.0, 0.0])

    def affinity(
        self, query: np.ndarray, history: Sequence[int], items: Sequence[int]
    ) -> list[float | None]:
        return [i / 10 if i <= 8 else None for i in items]

    def collaborative(
        self, history: Sequence[int], k: int, exclude: Collection[int]
    ) -> list[tuple[int, float]]:
        """Item CF that speaks for items 8, 2 and 12, in that order."""
        return [(i, 1.0 / n) for n, i in enumerate([8, 2, 12], 1) if i not in exclude][:k]


def test_every_candidate_carries_the_models_affinity_and_the_history_reads_newest_first() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1])}, {7: {2, 1}}, POPULAR)
    vectors = ScoringVectors()
    settings = Settings(recall=RecallSettings(embedding_quota=2, popular_quota=3))
    recaller = Recaller(FakeIndex(VECTORS), store, settings, "item_bag:v3", user_vectors=vectors)

    result = recaller.recall(7)

    assert vectors.history == [1, 2]
    pool = result.candidates
    assert "popular" in {r for routes in pool.routes for r in routes}
    assert pool.affinity == [i / 10 if i <= 8 else None for i in pool.item_ids]
    assert pool.affinity_model == "item_bag:v3"
    # A model without user-item scores (item2vec's mean of recent items) hands none over.
    item2vec = Recaller(FakeIndex(VECTORS), store, settings, version="item2vec:v1")
    assert item2vec.recall(7).candidates.affinity == []


def test_the_item_cf_route_adds_what_the_history_speaks_for_except_when_browsing_a_genre() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1])}, {7: {2, 1}}, POPULAR)
    only_item_cf = {"embedding_quota": 1, "popular_quota": 0, "item_to_item_quota": 0}
    settings = Settings(recall=RecallSettings(**only_item_cf, genre_quota=0, item_cf_quota=5))
    vectors = ScoringVectors()
    recaller = Recaller(FakeIndex(VECTORS), store, settings, "item_bag:v3", user_vectors=vectors)

    result = recaller.recall(7)

    # Item 2 is seen; item 12 has no bag embedding and so no affinity; 3 is the vector's.
    assert result.candidates.item_ids == [8, 12, 3]
    assert result.candidates.routes == [["item_cf"], ["item_cf"], ["embedding"]]
    assert result.candidates.affinity == [0.8, None, 0.3]
    assert result.trace.detail["item_cf"] == 2
    browsing = Recaller(
        FakeIndex(VECTORS),
        store,
        Settings(recall=RecallSettings(**{**only_item_cf, "embedding_quota": 0}, genre_quota=0)),
        "item_bag:v3",
        user_vectors=vectors,
    )
    assert browsing.recall(7, genre="Western").trace.detail["item_cf"] == 0


def test_ranking_gets_the_best_candidates_by_affinity_in_merged_order() -> None:
    merged = Candidates(
        item_ids=[10, 11, 12, 13, 14],
        scores=[5.0, 4.0, 3.0, 2.0, 1.0],
        routes=[["popular"]] * 5,
        affinity=[0.1, None, 0.9, 0.5, 0.2],
    )
    assert best_by_affinity(merged, 3).item_ids == [12, 13, 14]
    assert best_by_affinity(merged, 3).affinity == [0.9, 0.5, 0.2]
    assert best_by_affinity(merged, 0).item_ids == merged.item_ids
    assert best_by_affinity(merged, 9).item_ids == merged.item_ids
    plain = Candidates(item_ids=[1, 2], scores=[2.0, 1.0], routes=[["popular"]] * 2)
    assert best_by_affinity(plain, 1).item_ids == [1, 2]


def test_fewer_candidates_than_a_request_may_ask_for_are_refused() -> None:
    with pytest.raises(ValueError, match="max_candidates"):
        Settings(max_k=100, recall=RecallSettings(max_candidates=50))
    assert Settings(max_k=100, recall=RecallSettings(max_candidates=0)).recall.max_candidates == 0
