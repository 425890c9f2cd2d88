"""Lands the Redis event stream in the lake's events table, exactly once.

The consumer reads with a consumer group (XREADGROUP) and acknowledges (XACK) a batch only
after the lake version holding it is committed. A run that dies in between leaves the batch
pending; the next run with the same consumer name reads its pending entries first and merges
them into the lake, which drops event ids it already holds, so each event lands exactly once.
New entries were never delivered before, so they are added without reading the lake
(`append_event_rows`): a commit costs what it lands.

An entry that is not an event goes to the quarantine with its reason and is acknowledged; the
rest of its batch lands. Entries the stream's cap (MAXLEN) dropped before this group read them
are counted from the gaps in the entries' numbers (`core.event_stream`) and kept in Redis with
the other totals (`LandingTotals`). Entries every group has acknowledged are then trimmed from
the stream, which would otherwise grow forever.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel

from core.event_key import text_keys
from core.event_stream import StreamEntry
from core.events import LoggedEvent
from core.filesystem import StoragePath
from core.online_store import OnlineStore
from core.stream_settings import StreamSettings
from core.tables import EVENTS, QUARANTINE
from core.writer_lock import writer_lock
from ingest.lake.versions import (
    append_event_rows,
    check_format,
    commit_event_rows,
    count_rows,
    recover,
    write_quarantine,
)
from ingest.stream.landing_totals import LandingTotals

GROUP = "lake"
CONSUMER = "lake-writer"
QUARANTINE_SOURCE = "redis stream"


class ConsumeSummary(BaseModel):
    read: int = 0
    redelivered: int = 0
    added: int = 0
    quarantined: int = 0
    dropped: int = 0
    lake_rows: int = 0
    trimmed: int = 0


def events_frame(events: list[LoggedEvent]) -> pd.DataFrame:
    """EVENTS rows with the lake's column types; each text id becomes its int64 key."""
    keys = text_keys([e.event_id for e in events]).tolist()
    rows = [e.model_dump() | {"event_id": key} for e, key in zip(events, keys, strict=True)]
    return pa.Table.from_pylist(rows, schema=EVENTS).to_pandas()


def quarantine_rows(entries: list[StreamEntry]) -> pa.Table:
    """QUARANTINE rows of entries that are not events: source, the entry id's time as the
    line, the reason and the raw fields as JSON."""
    return pa.table(
        {
            "source": [f"{QUARANTINE_SOURCE} {e.entry_id}" for e in entries],
            "line": [int(e.entry_id.partition("-")[0]) for e in entries],
            "reason": [e.error or "" for e in entries],
            "raw": [e.raw for e in entries],
        },
        schema=QUARANTINE,
    )


def consume_events(
    store: OnlineStore,
    lake: StoragePath,
    quarantine: StoragePath,
    settings: StreamSettings,
    group: str = GROUP,
    consumer: str = CONSUMER,
) -> ConsumeSummary:
    """Land everything the stream holds for `group`: this consumer's pending entries, then new
    ones, one lake commit per batch of `settings.land_batch`, acknowledged after the commit."""
    stream = store.stream
    stream.ensure_group(group)
    totals = LandingTotals(store.client, group)
    summary = ConsumeSummary()
    with writer_lock(lake):
        recover(lake)
        check_format(lake)
        for pending in (True, False):
            # Up to the stream's end as this run finds it: with events arriving all the time,
            # reading on until a read comes back empty would commit again and again for the
            # few that came in during the last commit, each commit paying for the whole lake's
            # folder. A short batch means the end was reached; the next run takes the rest.
            batch_full = True
            while batch_full and (
                entries := stream.read(group, consumer, settings.land_batch, pending)
            ):
                batch_full = len(entries) == settings.land_batch
                added, quarantined = _land(entries, lake, quarantine, settings, pending)
                stream.ack(group, [e.entry_id for e in entries])
                dropped = totals.record(entries, added, quarantined)
                summary.read += len(entries)
                summary.added += added
                summary.quarantined += quarantined
                summary.dropped += dropped
                if pending:
                    summary.redelivered += len(entries)
        summary.lake_rows = count_rows(lake)
    summary.trimmed = stream.trim_acknowledged()
    totals.finish_round()
    return summary


def _land(
    entries: list[StreamEntry],
    lake: StoragePath,
    quarantine: StoragePath,
    settings: StreamSettings,
    pending: bool,
) -> tuple[int, int]:
    """Commit a batch's events and quarantine its unreadable entries; (added, quarantined)."""
    bad = [e for e in entries if e.error is not None]
    # Named by the batch's first entry: a batch redelivered after a crash replaces its own file.
    write_quarantine(quarantine_rows(bad), quarantine, f"stream-{entries[0].entry_id}")
    events = [e.event for e in entries if e.event is not None]
    if not events:
        return 0, len(bad)
    frame = events_frame(events)
    if pending:
        _, added = commit_event_rows(frame, lake)
    else:
        _, added = append_event_rows(frame, lake, settings.compact_files)
    return added, len(bad)
