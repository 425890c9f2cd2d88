"""Online features in Redis: user profiles, recent and seen items, item popularity, and the
stream of live events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis
from pydantic import BaseModel, Field

from core.event_stream import EventStream
from core.events import LoggedEvent
from core.labels import is_positive
from core.stream_settings import StreamSettings

_BATCH = 1000
# Events that hide an item from the user's next recommendations.
_SEEN_EVENTS = ("rating", "click")
_SNAPSHOT_KEY = "meta:features_snapshot"


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
    user_last_ts: int | None = Field(None, description="latest rating, epoch ms; None: none yet")


@dataclass(frozen=True)
class UserState:
    """What recall reads about one user for a request: profile (None when unknown), the items
    never to recommend again (`seen`; `history` holds them newest first), and the fingerprint
    of the published features snapshot."""

    profile: UserProfile | None
    history: list[int]
    snapshot: str | None

    @property
    def seen(self) -> set[int]:
        return set(self.history)


class OnlineStore:
    """Typed access to the online keys; one instance per process, connections pooled."""

    def __init__(self, url: str, stream_max_len: int = StreamSettings().max_len) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
        self.stream = EventStream(self.client, stream_max_len)

    def ping(self) -> bool:
        return bool(self.client.ping())

    @staticmethod
    def _profile_key(user_id: int) -> str:
        return f"user:{user_id}:profile"

    @staticmethod
    def _seen_key(user_id: int) -> str:
        return f"user:{user_id}:seen"

    def publish_users(
        self, profiles: Iterable[UserProfile], seen: dict[int, list[tuple[int, int]]]
    ) -> int:
        """Replace the profiles and seen items of these users (`seen`: (item, epoch ms of its
        latest event) pairs); returns how many were written."""
        written = 0
        pipe = self.client.pipeline(transaction=False)
        for profile in profiles:
            pipe.set(self._profile_key(profile.user_id), profile.model_dump_json())
            seen_key = self._seen_key(profile.user_id)
            pipe.delete(seen_key)
            items = seen.get(profile.user_id, [])
            if items:
                pipe.zadd(seen_key, {item: ts for item, ts in items})
            written += 1
            if written % _BATCH == 0:
                pipe.execute()
        pipe.execute()
        return written

    def profile(self, user_id: int) -> UserProfile | None:
        return _profile(self.client.get(self._profile_key(user_id)))

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
        return set(self.history(user_id))

    def history(self, user_id: int) -> list[int]:
        """Every item the user rated or clicked, newest first."""
        return _items(self.client.zrevrange(self._seen_key(user_id), 0, -1))

    def user_state(self, user_id: int) -> UserState:
        """Profile, seen items and snapshot in one round trip: each trip blocks the replica's
        event loop, and every request in flight on it waits."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self._profile_key(user_id))
        pipe.zrevrange(self._seen_key(user_id), 0, -1)
        pipe.get(_SNAPSHOT_KEY)
        profile, history, snapshot = pipe.execute()
        return UserState(
            profile=_profile(profile), history=_items(history), snapshot=_text(snapshot)
        )

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
        self.client.set(_SNAPSHOT_KEY, fingerprint)

    def snapshot(self) -> str | None:
        return _text(self.client.get(_SNAPSHOT_KEY))

    def append_events(self, events: list[LoggedEvent]) -> list[str]:
        """Append to the event stream only (impressions); returns the stream entry ids."""
        pipe = self.client.pipeline(transaction=True)
        for event in events:
            self.stream.append(pipe, event)
        return [entry.decode() for entry in pipe.execute()]

    def record_events(
        self, events: list[LoggedEvent], label_threshold: float, recent_limit: int
    ) -> list[str]:
        """Append user feedback to the stream and apply it to the users' online state in one
        transaction: rated and clicked items join the seen set (never recommended again), a
        positive rating (`core.labels`) leads the recent items that drive recall."""
        users = sorted({e.user_id for e in events})
        keys = [self._profile_key(u) for u in users]

        def apply(pipe: redis.client.Pipeline) -> None:
            raw = pipe.mget(keys) if keys else []
            profiles = {
                user: UserProfile.model_validate_json(r) if r else UserProfile(user_id=user)
                for user, r in zip(users, raw, strict=True)
            }
            pipe.multi()
            for event in events:
                self.stream.append(pipe, event)
                if event.event_type in _SEEN_EVENTS:
                    # Scored by the event's time, so that the user's history reads newest first.
                    pipe.zadd(
                        self._seen_key(event.user_id),
                        {event.item_id: int(event.ts.timestamp() * 1000)},
                    )
                if event.event_type == "rating":
                    add_rating(profiles[event.user_id], event, label_threshold, recent_limit)
            for user, profile in profiles.items():
                pipe.set(self._profile_key(user), profile.model_dump_json())

        # WATCH on the profiles: a concurrent update of the same user retries instead of losing
        # one of the two.
        results = self.client.transaction(apply, *keys)
        return [r.decode() for r in results if isinstance(r, bytes)]


def add_rating(
    profile: UserProfile, event: LoggedEvent, label_threshold: float, recent_limit: int
) -> None:
    """Apply a live rating to the profile in place."""
    count = profile.user_rating_count
    profile.user_avg_rating = (profile.user_avg_rating * count + event.value) / (count + 1)
    profile.user_rating_count = count + 1
    if is_positive(event.value, label_threshold):
        recent = [event.item_id, *(i for i in profile.user_recent_items if i != event.item_id)]
        profile.user_recent_items = recent[: max(recent_limit, len(profile.user_recent_items))]
    # The latest by time, as the features job takes it: a late-arriving older rating leaves it.
    ts_ms = int(event.ts.timestamp() * 1000)
    last = profile.user_last_ts
    profile.user_last_ts = ts_ms if last is None else max(ts_ms, last)


def _profile(raw: bytes | None) -> UserProfile | None:
    return None if raw is None else UserProfile.model_validate_json(raw)


def _items(raw: Iterable[bytes]) -> list[int]:
    return [int(x) for x in raw]


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode()
