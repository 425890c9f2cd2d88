from __future__ import annotations

import asyncio
from types import SimpleNamespace

import redis

from cluster.app.gateway import Gateway
from core.api import ProfileLookup
from core.online_store import UserProfile

WARM = UserProfile(user_id=7, user_recent_items=[3, 4])
NO_HISTORY = UserProfile(user_id=7, user_rating_count=2)


class CountingStore:
    """The Gateway's store, holding one profile and counting reads of it."""

    def __init__(self, profile: UserProfile | None) -> None:
        self.stored = profile
        self.reads = 0

    def profile(self, user_id: int) -> UserProfile | None:
        self.reads += 1
        return self.stored


def _cold_start(user: ProfileLookup | None, stored: UserProfile | None) -> tuple[bool, int]:
    """The Gateway's cold_start for user 7 and how many times it read the store."""
    store = CountingStore(stored)
    replica = SimpleNamespace(store=store)
    return asyncio.run(Gateway.func_or_class._cold_start(replica, 7, user)), store.reads


def test_cold_start_comes_from_the_profile_recall_read_without_a_store_read() -> None:
    # The store disagrees with what Recall read: the answer must come from Recall's read.
    assert _cold_start(ProfileLookup(profile=WARM), None) == (False, 0)
    assert _cold_start(ProfileLookup(profile=NO_HISTORY), WARM) == (True, 0)
    assert _cold_start(ProfileLookup(profile=None), WARM) == (True, 0)


def test_when_recall_degraded_the_gateway_reads_the_profile_itself() -> None:
    assert _cold_start(None, WARM) == (False, 1)
    assert _cold_start(None, NO_HISTORY) == (True, 1)
    assert _cold_start(None, None) == (True, 1)


class DownStore:
    def profile(self, user_id: int) -> UserProfile | None:
        raise redis.ConnectionError("Redis is unreachable")


def test_while_redis_is_down_the_answer_is_not_called_a_cold_start() -> None:
    replica = SimpleNamespace(store=DownStore())
    assert asyncio.run(Gateway.func_or_class._cold_start(replica, 7, None)) is False
