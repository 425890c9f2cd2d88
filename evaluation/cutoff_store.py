"""An in-memory stand-in for the online store, filled from the train period for offline runs."""

from __future__ import annotations

from collections.abc import Mapping

from core.online_store import UserProfile, UserState
from core.tables import MAX_RECENT_ITEMS


class FrozenFeatures:
    """Profiles, seen sets and a popularity ranking as they stood at the cutoff.

    Satisfies recaller.OnlineFeatures. A profile carries what the features job would have
    published: the newest MAX_RECENT_ITEMS positives (newest first) and the top genres.
    """

    def __init__(
        self,
        history: Mapping[int, list[int]],
        seen: Mapping[int, set[int]],
        genres: Mapping[int, list[str]],
        popularity: Mapping[int, float],
    ) -> None:
        self._history = history
        self._seen = seen
        self._genres = genres
        self._ranking = sorted(popularity.items(), key=lambda pair: (-pair[1], pair[0]))

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=self._profile(user_id), seen=self._seen.get(user_id, set()), snapshot=None
        )

    def _profile(self, user_id: int) -> UserProfile | None:
        history = self._history.get(user_id)
        if not history:
            return None
        return UserProfile(
            user_id=user_id,
            user_rating_count=len(self._seen.get(user_id, ())),
            user_genres=self._genres.get(user_id, []),
            user_recent_items=history[::-1][:MAX_RECENT_ITEMS],
        )

    def popular(self, n: int) -> list[tuple[int, float]]:
        return self._ranking[:n]
