"""Settings of the live event stream and of the app's consumer that lands it in the lake.

Kept apart from core/settings.py, which imports and re-exports them, to keep files short.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class StreamSettings(BaseModel):
    """The Redis stream of live events and the EventLander deployment that empties it."""

    max_len: int = Field(
        1_000_000,
        ge=1000,
        description="entries the stream keeps at most (XADD MAXLEN ~): when no consumer keeps "
        "up, the oldest go and are counted as dropped (starling_stream_dropped)",
    )
    event_id_window_s: int = Field(
        86_400,
        ge=1,
        description="a client-named event's id is remembered this long: a retry within it is "
        "not recorded again (one small Redis key per named event)",
    )
    land_interval_s: float = Field(
        5.0, gt=0, description="seconds between the EventLander's rounds of landing new events"
    )
    land_batch: int = Field(10_000, ge=1, description="events per lake commit")
    compact_files: int = Field(
        32,
        ge=2,
        description="a month holding this many files is merged into one when the next batch "
        "lands in it; until then each batch adds a file, so a commit costs what it adds",
    )
