"""Turning a `POST /events` batch into logged events, after the checks a schema cannot make."""

from __future__ import annotations

import uuid
from collections.abc import Container
from datetime import UTC, datetime

from core.errors import InvalidInputError
from core.event_api import EventBatch
from core.events import LoggedEvent
from core.settings import DataSettings

EVENTS_SOURCE = "api"


class RejectedEventsError(InvalidInputError):
    """The batch holds an event Starling cannot accept; nothing of it was recorded."""


def accept_events(
    batch: EventBatch, catalog: Container[int], data: DataSettings, now: datetime
) -> list[LoggedEvent]:
    """Each event with its client's id or a fresh one, and a UTC time; raises naming every bad
    event by index."""
    problems: list[str] = []
    for n, event in enumerate(batch.events):
        if event.item_id not in catalog:
            problems.append(f"events[{n}]: no item {event.item_id}")
        if event.event_type == "rating" and not data.rating_min <= event.value <= data.rating_max:
            problems.append(
                f"events[{n}]: rating {event.value} outside {data.rating_min}..{data.rating_max}"
            )
    if problems:
        raise RejectedEventsError("; ".join(problems))
    return [
        LoggedEvent(
            event_id=event.event_id or f"evt-{uuid.uuid4().hex}",
            client_named=event.event_id is not None,
            user_id=event.user_id,
            item_id=event.item_id,
            event_type=event.event_type,
            value=event.value,
            ts=_utc(event.ts) if event.ts else now,
            source=EVENTS_SOURCE,
        )
        for event in batch.events
    ]


def _utc(ts: datetime) -> datetime:
    # A time without a zone is taken as UTC, as the lake stores it.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
