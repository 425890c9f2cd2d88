from collections.abc import Collection, Sequence

import numpy as np
import pytest

from core.online_store import UserProfile, UserState
from core.settings import RecallSettings, Settings
from recall_service.index.exact import ExactIndex
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import l2_normalise
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.recaller import Recaller
from recall_service.serving.routes import item_to_item_route


class FakeIndex:
    """Exact cosine search over a dict of item vectors; filters may only exclude ids."""

    def __init__(self, vectors: dict[int, list[float]]) -> None:
        self.ids = list(vectors)
        self.matrix = l2_normalise(np.array([vectors[i] for i in self.ids], dtype=np.float32))
        self.searches: list[int] = []

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {i: self.matrix[self.ids.index(i)] for i in ids if i in self.ids}

    def search(
        self, vectors: np.ndarray, k: int, where: ItemFilter | None = None
    ) -> list[list[tuple[int, float]]]:
        assert where is None or not where.uses_attributes, "these tests send no genre"
        excluded = where.exclude if where is not None else frozenset()
        self.searches.append(k)
        results = []
        for query in vectors:
            scores = self.matrix @ query
            order = [j for j in np.argsort(-scores) if self.ids[j] not in excluded][:k]
            results.append([(self.ids[j], float(scores[j])) for j in order])
        return results


class FakeStore:
    def __init__(
        self,
        profiles: dict[int, UserProfile],
        seen: dict[int, set[int]],
        popular: list[tuple[int, float]],
    ) -> None:
        self.profiles, self.seen_sets, self.ranking = profiles, seen, popular

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=self.profiles.get(user_id),
            history=sorted(self.seen_sets.get(user_id, set())),
            snapshot="features-1",
        )

    def popular(self, n: int) -> list[tuple[int, float]]:
        return self.ranking[:n]


# Items 1-4 lie near the x axis, 5-8 near the y axis.
VECTORS = {
    1: [1.0, 0.0],
    2: [1.0, 0.1],
    3: [1.0, 0.3],
    4: [1.0, 0.6],
    5: [0.0, 1.0],
    6: [0.1, 1.0],
    7: [0.3, 1.0],
    8: [0.6, 1.0],
}
POPULAR = [(5, 90.0), (1, 80.0), (6, 70.0), (2, 60.0), (9, 50.0)]


def _recaller(
    store: FakeStore,
    embedding: int = 2,
    popular: int = 3,
    item_to_item: int = 0,
    genre: int = 0,
    genres: GenrePopularity | None = None,
    max_excluded: int = 1000,
) -> Recaller:
    settings = Settings(
        recall=RecallSettings(
            max_excluded=max_excluded,
            embedding_quota=embedding,
            popular_quota=popular,
            item_to_item_quota=item_to_item,
            genre_quota=genre,
            recent_items=2,
            item_to_item_seeds=2,
        )
    )
    return Recaller(FakeIndex(VECTORS), store, settings, version="item2vec:v1", genres=genres)


NO_ROUTE = {"embedding": 0, "item_cf": 0, "item_to_item": 0, "popular": 0, "genre": 0}


def test_routes_weigh_in_proportion_to_their_quotas_and_name_themselves() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1, 2])}, {7: {1, 2}}, POPULAR)

    result = _recaller(store).recall(7)

    items = result.candidates.item_ids
    routes = {c.item_id: c.routes for c in result.candidates.as_list()}
    # The two unseen items nearest to 1 and 2 are 3 and 4; popular without 1 and 2: 5, 6, 9.
    # Shares over the largest quota, 3: popular 5 -> 1, 6 -> 2/3, 9 -> 1/3; embedding (quota 2)
    # 3 -> 2/3, 4 -> 1/3. Equal shares keep route order.
    assert items == [5, 3, 6, 4, 9]
    assert routes == {
        3: ["embedding"],
        4: ["embedding"],
        5: ["popular"],
        6: ["popular"],
        9: ["popular"],
    }
    scores = result.candidates.scores
    assert scores == sorted(scores, reverse=True)
    assert result.trace.model == "item2vec:v1"
    assert result.trace.candidates_out == 5
    assert result.trace.detail == {**NO_ROUTE, "embedding": 2, "popular": 3, "history": 2}


def test_an_item_found_by_both_routes_appears_once_with_both_routes_and_ranks_first() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[5])}, {7: {5}}, POPULAR)

    result = _recaller(store, embedding=2, popular=2).recall(7)

    items = result.candidates.item_ids
    assert items == [6, 1, 7]
    assert result.candidates.as_list()[0].routes == ["embedding", "popular"]
    assert 5 not in items


def test_recent_items_without_a_vector_are_skipped() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[99, 4])}, {7: {4}}, POPULAR)

    result = _recaller(store, embedding=1, popular=0).recall(7)

    assert result.candidates.item_ids == [3]


def test_cold_users_get_popular_items_only() -> None:
    no_profile = FakeStore({}, {}, POPULAR)
    unknown_items = FakeStore(
        {8: UserProfile(user_id=8, user_recent_items=[99])}, {8: {99}}, POPULAR
    )

    # The result counts the recent items read (the Gateway's cold_start), known to the index or
    # not, and the trace shows the count.
    for store, user, history in ((no_profile, 7, 0), (unknown_items, 8, 1)):
        result = _recaller(store).recall(user)
        assert result.candidates.item_ids == [5, 1, 6]
        assert all(c.routes == ["popular"] for c in result.candidates.as_list())
        assert result.trace.detail == {**NO_ROUTE, "popular": 3, "history": history}
        assert result.user.history_len == history
        assert result.user.profile == store.user_state(user).profile


def test_vector_searches_leave_seen_items_out_and_popular_asks_for_enough_more() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1])}, {7: {1, 2, 3}}, POPULAR)
    recaller = _recaller(store, embedding=2, popular=2)

    result = recaller.recall(7)

    assert recaller.index.searches == [2]
    # Nearest to item 1 are 1, 2, 3 (seen), then 4 and 8; popular without seen: 5 and 6.
    assert result.candidates.item_ids == [4, 5, 8, 6]


def test_seen_items_over_the_exclusion_cap_are_asked_for_and_dropped_after_the_search() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1])}, {7: {1, 2, 3}}, POPULAR)
    recaller = _recaller(store, embedding=2, popular=2, max_excluded=1)

    result = recaller.recall(7)

    assert recaller.index.searches == [2 + 2]
    assert result.candidates.item_ids == [4, 5, 8, 6]


def test_item_to_item_ranks_items_near_all_seeds_above_items_near_one() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1, 2])}, {7: {1, 2}}, [])

    result = _recaller(store, embedding=0, popular=0, item_to_item=3).recall(7)

    # Mean cosine to seeds 1 and 2: item 3 0.97, 4 0.88, 8 0.56, then 7 0.33 (over quota).
    assert result.candidates.item_ids == [3, 4, 8]
    assert all(c.routes == ["item_to_item"] for c in result.candidates.as_list())
    assert result.trace.detail == {**NO_ROUTE, "item_to_item": 3, "history": 2}


def test_item_to_item_skips_seeds_without_a_vector_and_never_proposes_a_seed() -> None:
    hits = item_to_item_route(FakeIndex(VECTORS), [99, 5], k=2)

    assert [item for item, _ in hits] == [6, 7]
    assert hits[0][1] == pytest.approx(0.995, abs=1e-3)
    assert item_to_item_route(FakeIndex(VECTORS), [99], k=2) == []


def test_a_cold_user_asking_for_a_genre_gets_that_genres_best_items_and_popular_ones() -> None:
    genres = GenrePopularity.build(
        [1, 2, 3, 5], [["Drama"], ["Drama", "War"], ["Comedy"], ["Comedy"]], [5.0, 9.0, 7.0, 8.0]
    )
    store = FakeStore({}, {}, POPULAR)

    result = _recaller(store, embedding=2, popular=2, genre=2, genres=genres).recall(
        42, genre="Drama"
    )

    routes = {c.item_id: c.routes for c in result.candidates.as_list()}
    assert routes == {5: ["popular"], 1: ["popular", "genre"], 2: ["genre"]}
    assert result.trace.detail == {**NO_ROUTE, "popular": 2, "genre": 2, "history": 0}


def test_a_known_user_gets_items_of_their_top_genres() -> None:
    genres = GenrePopularity.build([3, 4, 7], [["War"], ["Drama"], ["War"]], [1.0, 9.0, 2.0])
    profile = UserProfile(user_id=7, user_genres=["War"], user_recent_items=[1])
    store = FakeStore({7: profile}, {7: {1, 7}}, [])

    result = _recaller(store, embedding=0, popular=0, genre=5, genres=genres).recall(7)

    assert [(c.item_id, c.routes) for c in result.candidates.as_list()] == [(3, ["genre"])]


def test_a_requested_genre_keeps_the_embedding_route_to_that_genre() -> None:
    ids = np.array(list(VECTORS))
    westerns = {7, 8}
    attributes = ItemAttributes(
        ids,
        [["Western"] if item in westerns else ["Drama"] for item in ids.tolist()],
        np.full(len(ids), 2000),
        np.zeros(len(ids), dtype=np.float32),
    )
    index = ExactIndex(ids, l2_normalise(np.array(list(VECTORS.values()))), attributes)
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1, 2])}, {7: {1, 2}}, [])
    settings = Settings(
        recall=RecallSettings(
            embedding_quota=2, popular_quota=0, item_to_item_quota=0, genre_quota=0
        )
    )
    recaller = Recaller(index, store, settings, version="item2vec:v1")

    plain = recaller.recall(7)
    browsing = recaller.recall(7, genre="Western")

    # Without the genre the nearest items to 1 and 2 (the x axis) win; with it, the Westerns.
    assert plain.candidates.item_ids == [3, 4]
    assert browsing.candidates.item_ids == [8, 7]


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
    assert _recaller(store).recall(7).candidates.affinity == []


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
