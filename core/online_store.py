"""Online features in Redis: user profiles, recent and seen items, item popularity, and the
stream of live events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis
from pydantic import BaseModel, Field

from core.data_settings import DataSettings
from core.event_ids import first_sightings, named_keys, remember
from core.event_stream import EventStream
from core.events import LoggedEvent
from core.labels import IMPLICIT_TYPES, INTERACTION_TYPES, interaction_rating, is_positive
from core.live_counters import LiveCounters
from core.stream_settings import StreamSettings

_BATCH = 1000
# Events that hide an item from the user's next recommendations: every interaction.
SEEN_EVENTS = INTERACTION_TYPES
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

    def __init__(
        self,
        url: str,
        stream_max_len: int = StreamSettings().max_len,
        client: redis.Redis | None = None,
    ) -> None:
        """`client` replaces the default one to `url` (core.redis_breaker's, on request paths)."""
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=5, health_check_interval=30
        )
        self.stream = EventStream(self.client, stream_max_len)
        self.live = LiveCounters(self.client)

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
        """Publish a features build's profiles and seen items of these users (`seen`: (item,
        epoch ms of its latest event) pairs), merged with what live events wrote since the
        build read the lake: seen sets only ever grow (an item keeps its newest time), and a
        live profile that counts more ratings than the build's keeps its counts and recent
        items (`merge_profiles`). Returns how many were written."""
        written = 0
        batch: list[UserProfile] = []
        for profile in profiles:
            batch.append(profile)
            if len(batch) == _BATCH:
                written += self._publish_batch(batch, seen)
                batch = []
        return written + (self._publish_batch(batch, seen) if batch else 0)

    def _publish_batch(
        self, profiles: list[UserProfile], seen: dict[int, list[tuple[int, int]]]
    ) -> int:
        keys = [self._profile_key(p.user_id) for p in profiles]

        def apply(pipe: redis.client.Pipeline) -> None:
            live = [_profile(raw) for raw in pipe.mget(keys)]
            pipe.multi()
            for built, current, key in zip(profiles, live, keys, strict=True):
                pipe.set(key, merge_profiles(built, current).model_dump_json())
                items = seen.get(built.user_id, [])
                if items:
                    pipe.zadd(self._seen_key(built.user_id), dict(items), gt=True)

        # WATCH on the profiles: an event recorded meanwhile retries the batch, not lost.
        self.client.transaction(apply, *keys)
        return len(profiles)

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

    def trending(self, n: int) -> list[tuple[int, float]]:
        """The n items live events counted most in the last hour, most first."""
        return self.live.top(n, "1h")

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

    def _touched(
        self, pipe: redis.client.Pipeline, events: list[LoggedEvent]
    ) -> set[tuple[int, int]]:
        """The (user, item) pairs of the implicit events that the users' seen sets already
        hold, read under the transaction's WATCH (commands run at once until MULTI): a click
        on an item its user already touched does not count again."""
        pairs = sorted({(e.user_id, e.item_id) for e in events if e.event_type in IMPLICIT_TYPES})
        return {(u, i) for u, i in pairs if pipe.zscore(self._seen_key(u), i) is not None}

    def record_events(
        self,
        events: list[LoggedEvent],
        data: DataSettings,
        recent_limit: int,
        id_window_s: int = StreamSettings().event_id_window_s,
    ) -> list[LoggedEvent]:
        """Append user feedback to the stream and apply it to the users' online state in one
        transaction: rated, clicked and viewed items join the seen set (never recommended
        again); every rating, and a click or view of an item the user had not touched yet,
        counts as an interaction standing for its rating (`core.labels`; the features job
        counts the same ones), a positive one leading the recent items that drive recall;
        every interaction counts for its item in the live counters (`core.live_counters`).
        Returns the events recorded: a client-named one recorded before is not (`core.event_ids`).
        """
        users = sorted({e.user_id for e in events})
        keys = [self._profile_key(u) for u in users]
        implicit = sorted({e.user_id for e in events if e.event_type in IMPLICIT_TYPES})
        recorded: list[LoggedEvent] = []

        def apply(pipe: redis.client.Pipeline) -> None:
            raw = pipe.mget(keys) if keys else []
            profiles = {
                user: UserProfile.model_validate_json(r) if r else UserProfile(user_id=user)
                for user, r in zip(users, raw, strict=True)
            }
            recorded[:] = first_sightings(pipe, events)
            touched = self._touched(pipe, recorded)
            pipe.multi()
            for event in recorded:
                self.stream.append(pipe, event)
                self.live.add(pipe, event)
                if event.event_type not in SEEN_EVENTS:
                    continue
                # Scored by the event's time, so that the user's history reads newest first.
                pipe.zadd(
                    self._seen_key(event.user_id),
                    {event.item_id: int(event.ts.timestamp() * 1000)},
                )
                key = (event.user_id, event.item_id)
                if event.event_type == "rating" or key not in touched:
                    touched.add(key)
                    rating = interaction_rating(event.event_type, event.value, data.implicit_rating)
                    profile = profiles[event.user_id]
                    add_rating(profile, event, rating, data.label_threshold, recent_limit)
            for user, profile in profiles.items():
                pipe.set(self._profile_key(user), profile.model_dump_json())
            remember(pipe, recorded, id_window_s)

        # WATCH on the profiles: a concurrent update of the same user retries instead of losing
        # one of the two; on the client ids: a racing retry of the batch records it once.
        watched = [*keys, *(self._seen_key(u) for u in implicit), *named_keys(events)]
        self.client.transaction(apply, *watched)
        return recorded


def merge_profiles(built: UserProfile, live: UserProfile | None) -> UserProfile:
    """The features build's profile, unless the live one counts more ratings: then live
    ratings arrived after the build read the lake, and the live running count, mean, recent
    items and last time stay (the build's other statistics are the best known until the next
    build)."""
    if live is None or live.user_rating_count <= built.user_rating_count:
        return built
    recent = [*live.user_recent_items, *built.user_recent_items]
    return built.model_copy(
        update={
            "user_rating_count": live.user_rating_count,
            "user_avg_rating": live.user_avg_rating,
            "user_recent_items": list(dict.fromkeys(recent))[: len(live.user_recent_items)],
            "user_last_ts": max(built.user_last_ts or 0, live.user_last_ts or 0) or None,
        }
    )


def add_rating(
    profile: UserProfile,
    event: LoggedEvent,
    rating: float,
    label_threshold: float,
    recent_limit: int,
) -> None:
    """Apply a live interaction, standing for `rating`, to the profile in place."""
    count = profile.user_rating_count
    profile.user_avg_rating = (profile.user_avg_rating * count + rating) / (count + 1)
    profile.user_rating_count = count + 1
    if is_positive(rating, label_threshold):
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
