"""The popularity ranking, read from the online store once per published features snapshot."""

from __future__ import annotations

from typing import Protocol

from core.online_store import UserProfile


class SnapshotStore(Protocol):
    """The online-store reads recall needs, plus the published snapshot's fingerprint."""

    def profile(self, user_id: int) -> UserProfile | None: ...

    def seen(self, user_id: int) -> set[int]: ...

    def popular(self, n: int) -> list[tuple[int, float]]: ...

    def snapshot(self) -> str | None: ...


class CachedPopularity:
    """The online store, with `popular(n)` answered from memory while the snapshot holds.

    The ranking changes only when features are published, and the publisher writes the
    snapshot fingerprint after the ranking; reading 300-odd scored items from Redis costs
    about 2 ms of CPU a request, checking the fingerprint a tenth of that.
    """

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._snapshot: str | None = None
        self._ranking: list[tuple[int, float]] = []
        self._complete = False

    def profile(self, user_id: int) -> UserProfile | None:
        return self.store.profile(user_id)

    def seen(self, user_id: int) -> set[int]:
        return self.store.seen(user_id)

    def popular(self, n: int) -> list[tuple[int, float]]:
        snapshot = self.store.snapshot()
        if snapshot != self._snapshot or (n > len(self._ranking) and not self._complete):
            self._ranking = self.store.popular(n)
            # A shorter answer than asked for is the whole ranking: nothing more to fetch.
            self._complete = len(self._ranking) < n
            self._snapshot = snapshot
        return self._ranking[:n]
