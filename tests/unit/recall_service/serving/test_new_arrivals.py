from core.api import Candidates
from core.online_catalog import ItemEntry
from core.online_store import UserProfile
from core.settings import RecallSettings, Settings
from recall_service.serving.new_arrivals import NewArrivals
from recall_service.serving.recaller import Recaller, best_by_affinity
from tests.support.recall_fakes import POPULAR, VECTORS, FakeIndex, FakeStore


def _entry(*genres: str) -> ItemEntry:
    return ItemEntry(title="A new film", genres=list(genres), year=2026)


def test_only_items_the_features_build_has_not_seen_arrive_newest_first() -> None:
    arrivals = NewArrivals(known=[1, 2])
    arrivals.add({1: _entry("Drama"), 100: _entry("Drama")})
    arrivals.add({101: _entry("Drama"), 102: _entry("Comedy")})

    assert [item for item, _ in arrivals.route([], 10)] == [102, 101, 100]
    assert [item for item, _ in arrivals.route(["Drama"], 10)] == [101, 100]
    assert [item for item, _ in arrivals.route(["Drama"], 10, exclude={101})] == [100]
    assert arrivals.route(["War"], 10) == []


def test_a_re_put_item_counts_as_newest_and_the_oldest_go_past_capacity() -> None:
    arrivals = NewArrivals(known=(), capacity=2)
    arrivals.add({100: _entry("Drama")})
    arrivals.add({101: _entry("Drama")})
    arrivals.add({100: _entry("Drama", "War")})
    arrivals.add({102: _entry("War")})

    assert len(arrivals) == 2
    assert [item for item, _ in arrivals.route(["War"], 10)] == [102, 100]


def _recaller(arrivals: NewArrivals) -> Recaller:
    settings = Settings(
        recall=RecallSettings(
            embedding_quota=2,
            popular_quota=2,
            item_to_item_quota=0,
            genre_quota=0,
            new_item_quota=2,
            recent_items=2,
        ),
    )
    return Recaller(FakeIndex(VECTORS), _store(), settings, "item2vec:v1", arrivals=arrivals)


def _store() -> FakeStore:
    profile = UserProfile(user_id=7, user_recent_items=[1], user_genres=["War", "Drama"])
    return FakeStore({7: profile}, {7: {1}}, POPULAR)


def test_new_arrivals_of_the_users_genres_become_candidates() -> None:
    arrivals = NewArrivals(known=VECTORS)
    arrivals.add({100: _entry("Drama"), 101: _entry("Comedy"), 102: _entry("War")})

    result = _recaller(arrivals).recall(7)

    routes = {c.item_id: c.routes for c in result.candidates.as_list()}
    assert routes[102] == ["new"] and routes[100] == ["new"]
    assert 101 not in routes
    assert result.trace.detail["new"] == 2


def test_the_candidate_cut_keeps_new_arrivals_which_have_no_affinity_to_judge() -> None:
    pool = Candidates(
        item_ids=[1, 2, 100, 3],
        scores=[0.9, 0.8, 0.7, 0.6],
        routes=[["popular"], ["embedding"], ["new"], ["popular"]],
        affinity=[0.1, 0.9, None, 0.5],
    )

    assert best_by_affinity(pool, 2).item_ids == [2, 3]
    assert best_by_affinity(pool, 2, kept_route="new").item_ids == [2, 100, 3]


def test_items_put_after_the_recaller_was_made_are_proposed() -> None:
    arrivals = NewArrivals(known=VECTORS)
    recaller = _recaller(arrivals)
    assert recaller.recall(7).trace.detail["new"] == 0

    arrivals.add({100: _entry("War")})

    assert recaller.recall(7).trace.detail["new"] == 1
