"""Online features in Redis: user profiles, recent and seen items, item popularity."""

from __future__ import annotations

from collections.abc import Iterable

import redis
from pydantic import BaseModel, Field

_BATCH = 1000


class UserProfile(BaseModel):
    """A user's features as of their latest event (same names as the USER_FEATURES table)."""

    user_id: int
    user_rating_count: int = 0
    user_avg_rating: float = 0.0
    user_rating_stddev: float = 0.0
    user_avg_release_year: float = 0.0
    user_release_year_stddev: float = 0.0
    user_genres: list[str] = Field(default_factory=list)
    user_recent_items: list[int] = Field(default_factory=list, description="newest first")


class OnlineStore:
    """Typed access to the online keys; one instance per process, connections pooled."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)

    def ping(self) -> bool:
        return bool(self.client.ping())

    @staticmethod
    def _profile_key(user_id: int) -> str:
        return f"user:{user_id}:profile"

    @staticmethod
    def _seen_key(user_id: int) -> str:
        return f"user:{user_id}:seen"

    def publish_users(self, profiles: Iterable[UserProfile], seen: dict[int, list[int]]) -> int:
        """Replace the profiles and seen sets of these users; returns how many were written."""
        written = 0
        pipe = self.client.pipeline(transaction=False)
        for profile in profiles:
            pipe.set(self._profile_key(profile.user_id), profile.model_dump_json())
            seen_key = self._seen_key(profile.user_id)
            pipe.delete(seen_key)
            items = seen.get(profile.user_id, [])
            if items:
                pipe.sadd(seen_key, *items)
            written += 1
            if written % _BATCH == 0:
                pipe.execute()
        pipe.execute()
        return written

    def profile(self, user_id: int) -> UserProfile | None:
        raw = self.client.get(self._profile_key(user_id))
        return None if raw is None else UserProfile.model_validate_json(raw)

    def profiles(self, user_ids: list[int]) -> dict[int, UserProfile]:
        """The profiles of these users that exist, in one round trip."""
        if not user_ids:
            return {}
        raw = self.client.mget([self._profile_key(u) for u in user_ids])
        return {
            user_id: UserProfile.model_validate_json(value)
            for user_id, value in zip(user_ids, raw, strict=True)
            if value is not None
        }

    def seen(self, user_id: int) -> set[int]:
        return {int(x) for x in self.client.smembers(self._seen_key(user_id))}

    def publish_popularity(self, scores: dict[int, float]) -> None:
        """Replace the popularity ranking atomically."""
        tmp = "items:popularity:tmp"
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(tmp)
        if scores:
            pipe.zadd(tmp, {str(k): float(v) for k, v in scores.items()})
            pipe.rename(tmp, "items:popularity")
        else:
            pipe.delete("items:popularity")
        pipe.execute()

    def popular(self, n: int) -> list[tuple[int, float]]:
        """The n most popular items with their scores, best first."""
        rows = self.client.zrevrange("items:popularity", 0, n - 1, withscores=True)
        return [(int(item), float(score)) for item, score in rows]

    def set_snapshot(self, fingerprint: str) -> None:
        """Record which features snapshot the online keys hold."""
        self.client.set("meta:features_snapshot", fingerprint)

    def snapshot(self) -> str | None:
        raw = self.client.get("meta:features_snapshot")
        return None if raw is None else raw.decode()
