"""The Redis stream of live events: bounded, numbered appends; consumer-group reads; trimming.

Every append runs one Lua script that takes the next number of a counter and adds the entry
with it, capped at about `max_len` entries (MAXLEN ~). The numbers are what lets a consumer
count what the cap dropped before it read it: Redis 6.2, which the embedded server runs, keeps
no count of entries ever added (XINFO's entries-added came with 7.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import redis

from core.events import LoggedEvent

EVENT_STREAM = "events:stream"
SEQUENCE_FIELD = "seq"
_SEQUENCE_KEY = "events:sequence"
_APPEND = """
local seq = redis.call('INCR', KEYS[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'seq', seq, unpack(ARGV, 2))
"""


@dataclass(frozen=True)
class StreamEntry:
    """One entry as a consumer read it. `event` is None when the entry cannot be read as one
    (`error` says why) or when the cap dropped its fields while it was pending (`dropped`);
    `sequence` is its number, None for an entry written before entries were numbered."""

    entry_id: str
    sequence: int | None
    event: LoggedEvent | None
    error: str | None
    raw: str = field(default="", repr=False)  # the fields as JSON, for unreadable entries

    @property
    def dropped(self) -> bool:
        return self.event is None and self.error is None


def read_entry(entry_id: str, fields: dict[bytes, bytes] | None) -> StreamEntry:
    """The entry's event, or why there is none."""
    if not fields:
        return StreamEntry(entry_id, None, None, None, "")
    sequence = fields.get(SEQUENCE_FIELD.encode(), b"")
    number = int(sequence) if sequence.isdigit() else None
    try:
        event = LoggedEvent.from_stream(fields)
    except (KeyError, ValueError, UnicodeDecodeError) as error:
        reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        # The raw fields are kept as text only for the quarantine, not for every good entry.
        raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
        text = json.dumps(raw, sort_keys=True)
        return StreamEntry(entry_id, number, None, " ".join(reason.split())[:500], text)
    return StreamEntry(entry_id, number, event, None, "")


class EventStream:
    """The stream's operations on one Redis client."""

    def __init__(self, client: redis.Redis, max_len: int) -> None:
        self.client = client
        self.max_len = max_len

    def append(self, pipe: redis.client.Pipeline, event: LoggedEvent) -> None:
        """Queue the event's numbered, capped append on `pipe`; its result is the entry id."""
        fields = [part for pair in event.to_stream().items() for part in pair]
        pipe.eval(_APPEND, 2, EVENT_STREAM, _SEQUENCE_KEY, self.max_len, *fields)

    def ensure_group(self, group: str) -> None:
        """Create the consumer group (and the stream) unless it exists; it starts at the
        stream's beginning so that nothing appended before is skipped."""
        try:
            self.client.xgroup_create(EVENT_STREAM, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, group: str, consumer: str, count: int, pending: bool) -> list[StreamEntry]:
        """Entries for this consumer: its delivered-but-unacknowledged ones when `pending`
        (what a crashed run left), otherwise new ones."""
        answer = self.client.xreadgroup(
            group, consumer, {EVENT_STREAM: "0" if pending else ">"}, count=count
        )
        return [
            read_entry(entry.decode(), fields)
            for _stream, rows in answer or []
            for entry, fields in rows
        ]

    def ack(self, group: str, entries: list[str]) -> int:
        return int(self.client.xack(EVENT_STREAM, group, *entries)) if entries else 0

    def length(self) -> int:
        return int(self.client.xlen(EVENT_STREAM))

    def trim_acknowledged(self) -> int:
        """Drop the entries every consumer group has acknowledged, so that the stream holds
        what a consumer may still need rather than every event ever sent; returns how many
        went. Nothing goes while no group exists: then nothing has landed anywhere."""
        groups = self.client.xinfo_groups(EVENT_STREAM) if self.client.exists(EVENT_STREAM) else []
        if not groups:
            return 0
        keep_from = []
        for group in groups:
            pending = self.client.xpending(EVENT_STREAM, group["name"])
            if pending["pending"]:
                keep_from.append(_stream_id(pending["min"]))
            else:
                ms, seq = _stream_id(group["last-delivered-id"])
                keep_from.append((ms, seq + 1))
        ms, seq = min(keep_from)
        return int(self.client.xtrim(EVENT_STREAM, minid=f"{ms}-{seq}", approximate=False))


def _stream_id(entry: bytes | str) -> tuple[int, int]:
    """A stream entry id ("1700000000000-3") as numbers, which order the way Redis does."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
