"""HTTP contracts of `POST /events`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.api import MAX_ID

EARLIEST_TS = datetime(1970, 1, 1)
LATEST_TS = datetime(2200, 1, 1)
# A client's clock may run ahead of the server's; an event further in the future would make
# every other item's popularity decay away against it.
CLOCK_SKEW = timedelta(hours=1)
CLIENT_EVENT_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class EventIn(BaseModel):
    """One user event posted to `POST /events`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: int = Field(ge=0, le=MAX_ID)
    item_id: int = Field(ge=0, le=MAX_ID)
    event_type: Literal["rating", "click", "view"]
    value: float = Field(1.0, allow_inf_nan=False, description="the rating; 1 for click and view")
    ts: datetime | None = Field(
        None, strict=False, description="when it happened (ISO 8601); the server's time when unset"
    )
    event_id: str | None = Field(
        None,
        pattern=CLIENT_EVENT_ID,
        description="the client's own id of the event: an event whose id was recorded within "
        "the last STARLING_STREAM__EVENT_ID_WINDOW_S is not recorded again, so a batch may be "
        "retried safely",
    )

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, ts: datetime | None) -> datetime | None:
        # The lake's readers hold times as nanoseconds since 1970, which end in 2262.
        if ts is None:
            return ts
        utc = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
        if not EARLIEST_TS <= utc < LATEST_TS:
            raise ValueError(f"ts must be between {EARLIEST_TS:%Y} and {LATEST_TS:%Y}")
        latest = datetime.now(UTC).replace(tzinfo=None) + CLOCK_SKEW
        if utc > latest:
            raise ValueError(f"ts is in the future (later than {latest:%Y-%m-%dT%H:%M:%S}Z)")
        return ts


class EventBatch(BaseModel):
    """Body of `POST /events`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventsAccepted(BaseModel):
    accepted: int = Field(description="events recorded by this call")
    duplicates: int = Field(
        0, description="events whose client event_id was recorded before: not recorded again"
    )
    event_ids: list[str] = Field(description="every event's id, in the batch's order")
