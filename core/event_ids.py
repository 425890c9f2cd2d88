"""Client event ids: a retried `POST /events` batch is recorded once.

A client that names its events may send a batch again when it never saw the answer (a timeout;
a 503 from a Redis that hung, then woke and applied the batch after all). Each client id is
remembered for `StreamSettings.event_id_window_s`, and an event whose id is remembered is not
recorded again. Server-named events need no memory: their ids are fresh UUIDs.
"""

from __future__ import annotations

import redis

from core.events import LoggedEvent


def event_id_key(event_id: str) -> str:
    return f"event_id:{event_id}"


def named_keys(events: list[LoggedEvent]) -> list[str]:
    """The keys of the client-named events' ids, for the recording transaction to WATCH."""
    return sorted({event_id_key(e.event_id) for e in events if e.client_named})


def first_sightings(pipe: redis.client.Pipeline, events: list[LoggedEvent]) -> list[LoggedEvent]:
    """The events to record: all but the client-named ones whose id was recorded before or
    comes earlier in the batch. Read under the transaction's WATCH (commands run at once until
    MULTI), so two retries racing each other record the batch once."""
    named = sorted({e.event_id for e in events if e.client_named})
    values = pipe.mget([event_id_key(i) for i in named]) if named else []
    taken = {event_id for event_id, value in zip(named, values, strict=True) if value is not None}
    fresh = []
    for event in events:
        if event.client_named:
            if event.event_id in taken:
                continue
            taken.add(event.event_id)
        fresh.append(event)
    return fresh


def remember(pipe: redis.client.Pipeline, events: list[LoggedEvent], window_s: int) -> None:
    """Queue the client-named events' ids to be remembered for `window_s` seconds."""
    for event in events:
        if event.client_named:
            pipe.set(event_id_key(event.event_id), 1, ex=window_s)
