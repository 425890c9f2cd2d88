"""Lands the Redis event stream in the lake's events table, exactly once.

The consumer reads with a consumer group (XREADGROUP) and acknowledges (XACK) a batch only
after the lake version holding it is committed. A run that dies in between leaves the batch
pending; the next run with the same consumer name reads its pending entries first, and the
lake drops event ids it already holds, so each event lands exactly once. Entries every group
has acknowledged are then trimmed from the stream, which would otherwise grow forever.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel

from core.event_key import text_keys
from core.events import LoggedEvent
from core.online_store import OnlineStore
from core.tables import EVENTS
from core.writer_lock import writer_lock
from ingest.lake.versions import check_format, commit_event_rows, count_rows, recover

GROUP = "lake"
CONSUMER = "lake-writer"


class ConsumeSummary(BaseModel):
    read: int = 0
    redelivered: int = 0
    added: int = 0
    lake_rows: int = 0
    trimmed: int = 0


def events_frame(events: list[LoggedEvent]) -> pd.DataFrame:
    """EVENTS rows with the lake's column types; each text id becomes its int64 key."""
    keys = text_keys([e.event_id for e in events]).tolist()
    rows = [e.model_dump() | {"event_id": key} for e, key in zip(events, keys, strict=True)]
    return pa.Table.from_pylist(rows, schema=EVENTS).to_pandas()


def consume_events(
    store: OnlineStore,
    lake: Path,
    batch: int = 10_000,
    group: str = GROUP,
    consumer: str = CONSUMER,
) -> ConsumeSummary:
    """Land everything the stream holds for `group`: this consumer's pending entries, then new
    ones, one lake commit per batch, acknowledged after the commit."""
    store.ensure_group(group)
    summary = ConsumeSummary()
    with writer_lock(lake):
        recover(lake)
        check_format(lake)
        for pending in (True, False):
            while entries := store.read_events(group, consumer, batch, pending):
                _, added = commit_event_rows(events_frame([event for _, event in entries]), lake)
                store.ack_events(group, [entry for entry, _ in entries])
                summary.added += added
                summary.read += len(entries)
                if pending:
                    summary.redelivered += len(entries)
        summary.lake_rows = count_rows(lake)
    summary.trimmed = store.trim_acknowledged()
    return summary
