from core.online_store import UserProfile, UserState
from recall_service.serving.popular_cache import CachedPopularity


class Store:
    """An online store in memory that counts its popularity reads."""

    def __init__(self, ranking: list[tuple[int, float]]) -> None:
        self.ranking = ranking
        self.fingerprint: str | None = "features-1"
        self.reads = 0

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=UserProfile(user_id=user_id), history=[user_id], snapshot=self.fingerprint
        )

    def popular(self, n: int) -> list[tuple[int, float]]:
        self.reads += 1
        return self.ranking[:n]

    def trending(self, n: int) -> list[tuple[int, float]]:
        return [(99, float(n))]


def test_the_ranking_is_read_once_per_published_snapshot() -> None:
    store = Store([(item, 100.0 - item) for item in range(1, 11)])
    cached = CachedPopularity(store)

    cached.user_state(1)
    assert cached.popular(3) == [(1, 99.0), (2, 98.0), (3, 97.0)]
    cached.user_state(2)
    assert cached.popular(2) == [(1, 99.0), (2, 98.0)]
    assert store.reads == 1
    # A longer list than the one held is read again; the whole ranking is never read twice.
    assert len(cached.popular(5)) == 5
    assert len(cached.popular(50)) == 10
    assert len(cached.popular(80)) == 10
    assert store.reads == 3

    store.ranking = [(42, 1.0)]
    cached.user_state(3)
    assert cached.popular(3) == [(1, 99.0), (2, 98.0), (3, 97.0)]
    store.fingerprint = "features-2"
    cached.user_state(3)
    assert cached.popular(3) == [(42, 1.0)]


def test_a_ranking_is_read_before_any_user_state() -> None:
    cached = CachedPopularity(Store([(5, 1.0)]))
    assert cached.popular(1) == [(5, 1.0)]


def test_user_states_are_always_read_fresh() -> None:
    store = Store([])
    cached = CachedPopularity(store)
    assert cached.user_state(7) == UserState(
        profile=UserProfile(user_id=7), history=[7], snapshot="features-1"
    )
    store.fingerprint = None
    assert cached.user_state(7).snapshot is None


def test_trending_is_never_held_it_changes_with_every_event() -> None:
    cached = CachedPopularity(Store([]))
    assert cached.trending(2) == [(99, 2.0)]
    assert cached.trending(5) == [(99, 5.0)]
