"""Live events as they travel through the Redis Stream into the lake's events table.

A `LoggedEvent` is one row of `core.tables.EVENTS`. Impressions keep the request and the A/B
variants in `source` (`impression req=<id> ab=exp:variant,...`) and the 0-based position in
`value`, so that they fit the one events schema that training and the A/B report read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

IMPRESSION = "impression"
IMPRESSION_SOURCE = "impression"


class LoggedEvent(BaseModel):
    event_id: str = Field(min_length=1)
    user_id: int
    item_id: int
    event_type: str
    value: float
    ts: datetime
    source: str
    # The client named it (POST /events' event_id): a retry of it must not be recorded again.
    client_named: bool = False

    def to_stream(self) -> dict[str, str]:
        """The Redis Stream entry's fields (strings; ts as epoch milliseconds)."""
        return {
            "event_id": self.event_id,
            "user_id": str(self.user_id),
            "item_id": str(self.item_id),
            "event_type": self.event_type,
            "value": repr(self.value),
            "ts": str(int(self.ts.timestamp() * 1000)),
            "source": self.source,
        }

    @classmethod
    def from_stream(cls, fields: dict[bytes, bytes]) -> LoggedEvent:
        raw = {k.decode(): v.decode() for k, v in fields.items()}
        return cls(
            event_id=raw["event_id"],
            user_id=int(raw["user_id"]),
            item_id=int(raw["item_id"]),
            event_type=raw["event_type"],
            value=float(raw["value"]),
            ts=datetime.fromtimestamp(int(raw["ts"]) / 1000, tz=UTC),
            source=raw["source"],
        )


def impression_source(request_id: str, variants: dict[str, str]) -> str:
    ab = ",".join(f"{experiment}:{variant}" for experiment, variant in sorted(variants.items()))
    return f"{IMPRESSION_SOURCE} req={request_id} ab={ab}"


def impression_variants(source: str) -> dict[str, str]:
    """The experiment -> variant map an impression's `source` carries (empty when none)."""
    for part in source.split(" "):
        if part.startswith("ab=") and len(part) > 3:
            pairs = (p.split(":", 1) for p in part[3:].split(","))
            return {experiment: variant for experiment, variant in pairs}
    return {}


def impressions(
    request_id: str,
    user_id: int,
    items: list[int],
    variants: dict[str, str],
    ts: datetime,
) -> list[LoggedEvent]:
    """One impression per recommended item, its position in `value`."""
    source = impression_source(request_id, variants)
    return [
        LoggedEvent(
            event_id=f"imp-{request_id}-{position}",
            user_id=user_id,
            item_id=item_id,
            event_type=IMPRESSION,
            value=float(position),
            ts=ts,
            source=source,
        )
        for position, item_id in enumerate(items)
    ]
