import numpy as np
import pytest

from core.online_store import UserProfile
from core.settings import RecallSettings, Settings
from recall_service.index.exact import ExactIndex
from recall_service.index.item_attributes import ItemAttributes
from recall_service.index.milvus import l2_normalise
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.recaller import Recaller
from recall_service.serving.routes import item_to_item_route
from tests.support.recall_fakes import POPULAR, VECTORS, FakeIndex, FakeStore


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


NO_ROUTE = {
    "embedding": 0,
    "item_cf": 0,
    "item_to_item": 0,
    "popular": 0,
    "trending": 0,
    "genre": 0,
    "new": 0,
}


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


def test_what_live_events_made_popular_is_proposed_before_the_next_features_build() -> None:
    store = FakeStore({7: UserProfile(user_id=7, user_recent_items=[1])}, {7: {1, 9}}, POPULAR)
    # Item 9 (seen by this user) and item 8 were counted most in the last hour.
    store.live = [(9, 60.0), (8, 50.0), (4, 3.0)]
    result = _recaller(store, embedding=0, popular=0).recall(7)
    assert result.candidates.item_ids == [8, 4]
    assert all(c.routes == ["trending"] for c in result.candidates.as_list())
    assert result.trace.detail == {**NO_ROUTE, "trending": 2, "history": 1}


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
