"""The stream consumer against a real Redis: events land in the lake exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
import redis

from core.event_key import text_keys
from core.events import LoggedEvent, impressions
from core.online_store import EVENT_STREAM, OnlineStore
from core.tables import EVENTS
from core.writer_lock import writer_lock
from ingest.lake.versions import commit_event_rows
from ingest.stream.consumer import GROUP, consume_events, events_frame

pytestmark = pytest.mark.integration

T = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str) -> OnlineStore:
    redis.Redis.from_url(redis_url).delete(EVENT_STREAM)
    return OnlineStore(redis_url)


def _clicks(first: int, n: int) -> list[LoggedEvent]:
    return [
        LoggedEvent(
            event_id=f"click-{i}",
            user_id=i % 7,
            item_id=i,
            event_type="click",
            value=1.0,
            ts=T + timedelta(hours=i),
            source="api",
        )
        for i in range(first, first + n)
    ]


def _lake_ids(lake) -> list[int]:
    return sorted(pq.read_table(lake, schema=EVENTS).column("event_id").to_pylist())


def _click_keys(numbers: range) -> list[int]:
    """The lake's keys of the clicks `_clicks` names by these numbers."""
    return sorted(text_keys([f"click-{i}" for i in numbers]).tolist())


def test_consumer_lands_new_events_once_across_months(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 3), 3.5, 10)
    store.append_events(impressions("r1", 1, [10, 11], {"exp": "a"}, T))
    first = consume_events(store, lake, batch=2)
    assert (first.read, first.added, first.lake_rows) == (5, 5, 5)
    assert {p.name for p in lake.iterdir() if p.is_dir()} == {"month=2026-10", "month=2026-11"}
    table = pq.read_table(lake, schema=EVENTS)
    assert sorted(table.column("event_type").to_pylist()) == ["click"] * 3 + ["impression"] * 2
    again = consume_events(store, lake)
    assert (again.read, again.added, again.lake_rows) == (0, 0, 5)


def test_entries_delivered_but_never_acked_are_redelivered(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 4), 3.5, 10)
    store.ensure_group(GROUP)
    # A consumer that died after reading, before writing: its entries stay pending.
    assert len(store.read_events(GROUP, "lake-writer", 10, pending=False)) == 4
    summary = consume_events(store, lake)
    assert (summary.redelivered, summary.added) == (4, 4)
    assert _lake_ids(lake) == _click_keys(range(4))


def test_a_batch_written_but_not_acked_lands_only_once(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 3), 3.5, 10)
    store.ensure_group(GROUP)
    # A consumer that died after committing the lake version, before XACK.
    entries = store.read_events(GROUP, "lake-writer", 10, pending=False)
    commit_event_rows(events_frame([event for _, event in entries]), lake)
    store.record_events(_clicks(3, 2), 3.5, 10)
    summary = consume_events(store, lake)
    assert (summary.read, summary.redelivered, summary.added) == (5, 3, 2)
    assert _lake_ids(lake) == _click_keys(range(5))
    assert consume_events(store, lake).read == 0


def test_landed_entries_leave_the_stream_and_unacknowledged_ones_stay(
    store: OnlineStore, tmp_path
) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 4), 3.5, 10)
    # Another group (say a metrics job) has read two entries and acknowledged one.
    store.ensure_group("metrics")
    read = store.read_events("metrics", "m1", 2, pending=False)
    store.ack_events("metrics", [read[0][0]])
    summary = consume_events(store, lake)
    assert (summary.added, summary.trimmed) == (4, 1)
    assert store.stream_length() == 3
    # The other group can still finish its pending entry and read the rest.
    assert [e.event_id for _, e in store.read_events("metrics", "m1", 10, pending=True)] == [
        "click-1"
    ]
    assert len(store.read_events("metrics", "m1", 10, pending=False)) == 2
    store.ack_events("metrics", [entry for entry, _ in read[1:]])

    store.record_events(_clicks(4, 2), 3.5, 10)
    assert consume_events(store, lake).added == 2
    # "metrics" has not acknowledged click-2 and click-3: they and the new entries stay.
    assert store.stream_length() == 4


def test_the_consumer_waits_for_a_writer_that_holds_the_lake(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 3), 3.5, 10)
    summaries = []
    with writer_lock(lake):  # what a running `starling ingest` holds
        consumer = threading.Thread(target=lambda: summaries.append(consume_events(store, lake)))
        consumer.start()
        consumer.join(timeout=1.0)
        assert consumer.is_alive() and not lake.exists()
    consumer.join(timeout=30)
    assert summaries[0].added == 3
    assert _lake_ids(lake) == _click_keys(range(3))
