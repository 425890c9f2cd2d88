"""What landing the stream has done so far, per consumer group, kept in Redis: every run of
`starling events consume` and the app's EventLander add to the same totals, and the Gateway's
/metrics and /admin/stream read them."""

from __future__ import annotations

import time

import redis
from pydantic import BaseModel, Field

from core.event_stream import StreamEntry

_KEY = "events:landing:{group}"


class LandingStatus(BaseModel):
    """`GET /admin/stream`: the stream and what its consumer group has landed."""

    group: str
    stream_length: int = Field(description="entries the stream holds now")
    read: int = Field(0, description="entries read, redeliveries included")
    landed: int = Field(0, description="events added to the lake")
    quarantined: int = Field(0, description="entries that were not events, kept with a reason")
    dropped: int = Field(
        0,
        description="entries the stream's cap removed before this group landed them (at most: "
        "one dropped while pending may have landed before its run died)",
    )
    rounds: int = Field(0, description="landing runs that finished")
    last_sequence: int = Field(0, description="number of the newest entry this group read")
    last_round_ms: int | None = Field(None, description="when the last run finished, epoch ms")
    last_error: str | None = Field(None, description="why the EventLander's last round failed")
    pending_items: int = Field(
        0, description="catalogue entries put online that the lake's items table lacks yet"
    )


class LandingTotals:
    """One consumer group's totals (a Redis hash)."""

    def __init__(self, client: redis.Redis, group: str) -> None:
        self.client = client
        self.group = group
        self.key = _KEY.format(group=group)

    def record(self, entries: list[StreamEntry], landed: int, quarantined: int) -> int:
        """Add a committed batch; returns how many entries the stream's cap dropped before this
        group read them: the gaps between the batch's entry numbers and the last one read
        before it, and the pending entries whose fields the cap removed."""
        last = int(self.client.hget(self.key, "last_sequence") or 0)
        dropped = sum(1 for e in entries if e.dropped)
        for number in sorted(e.sequence for e in entries if e.sequence is not None):
            if number > last:
                dropped += number - last - 1
                last = number
        pipe = self.client.pipeline(transaction=True)
        pipe.hincrby(self.key, "read", len(entries))
        pipe.hincrby(self.key, "landed", landed)
        pipe.hincrby(self.key, "quarantined", quarantined)
        pipe.hincrby(self.key, "dropped", dropped)
        pipe.hset(self.key, "last_sequence", last)
        pipe.execute()
        return dropped

    def finish_round(self) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hincrby(self.key, "rounds", 1)
        pipe.hset(self.key, "last_round_ms", int(time.time() * 1000))
        pipe.execute()

    def status(self, stream_length: int) -> LandingStatus:
        raw = {k.decode(): int(v) for k, v in self.client.hgetall(self.key).items()}
        return LandingStatus(group=self.group, stream_length=stream_length, **raw)
