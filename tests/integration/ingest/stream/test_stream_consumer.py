"""The stream consumer against a real Redis: events land in the lake exactly once, entries that
are not events go to the quarantine, and what the stream's cap dropped is counted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from core.data_settings import DataSettings
from core.event_key import text_keys
from core.event_stream import EVENT_STREAM
from core.events import LoggedEvent, impressions
from core.online_store import OnlineStore
from core.stream_settings import StreamSettings
from core.tables import EVENTS, QUARANTINE
from core.writer_lock import writer_lock
from ingest.lake.versions import commit_event_rows
from ingest.stream.consumer import GROUP, ConsumeSummary, consume_events, events_frame
from ingest.stream.landing_totals import LandingTotals
from tests.support.redis_keys import cleared

pytestmark = pytest.mark.integration

T = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str) -> OnlineStore:
    # The stream, its entry numbers and the groups' landing totals start afresh.
    cleared(redis_url, "events:*")
    return OnlineStore(redis_url)


def consume(store: OnlineStore, lake, batch: int = 10_000, compact: int = 32) -> ConsumeSummary:
    settings = StreamSettings(land_batch=batch, compact_files=compact)
    return consume_events(store, lake, lake.parent / "quarantine", settings)


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
    store.record_events(_clicks(0, 3), DataSettings(), 10)
    store.append_events(impressions("r1", 1, [10, 11], {"exp": "a"}, T))
    first = consume(store, lake, batch=2)
    assert (first.read, first.added, first.lake_rows) == (5, 5, 5)
    assert {p.name for p in lake.iterdir() if p.is_dir()} == {"month=2026-10", "month=2026-11"}
    table = pq.read_table(lake, schema=EVENTS)
    assert sorted(table.column("event_type").to_pylist()) == ["click"] * 3 + ["impression"] * 2
    again = consume(store, lake)
    assert (again.read, again.added, again.lake_rows) == (0, 0, 5)


def test_entries_delivered_but_never_acked_are_redelivered(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 4), DataSettings(), 10)
    store.stream.ensure_group(GROUP)
    # A consumer that died after reading, before writing: its entries stay pending.
    assert len(store.stream.read(GROUP, "lake-writer", 10, pending=False)) == 4
    summary = consume(store, lake)
    assert (summary.redelivered, summary.added) == (4, 4)
    assert _lake_ids(lake) == _click_keys(range(4))


def test_a_batch_written_but_not_acked_lands_only_once(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 3), DataSettings(), 10)
    store.stream.ensure_group(GROUP)
    # A consumer that died after committing the lake version, before XACK.
    entries = store.stream.read(GROUP, "lake-writer", 10, pending=False)
    commit_event_rows(events_frame([e.event for e in entries if e.event]), lake)
    store.record_events(_clicks(3, 2), DataSettings(), 10)
    summary = consume(store, lake)
    assert (summary.read, summary.redelivered, summary.added) == (5, 3, 2)
    assert _lake_ids(lake) == _click_keys(range(5))
    assert consume(store, lake).read == 0


def test_landed_entries_leave_the_stream_and_unacknowledged_ones_stay(
    store: OnlineStore, tmp_path
) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 4), DataSettings(), 10)
    # Another group (say a metrics job) has read two entries and acknowledged one.
    store.stream.ensure_group("metrics")
    read = store.stream.read("metrics", "m1", 2, pending=False)
    store.stream.ack("metrics", [read[0].entry_id])
    summary = consume(store, lake)
    assert (summary.added, summary.trimmed) == (4, 1)
    assert store.stream.length() == 3
    # The other group can still finish its pending entry and read the rest.
    pending = store.stream.read("metrics", "m1", 10, pending=True)
    assert [e.event.event_id for e in pending if e.event] == ["click-1"]
    assert len(store.stream.read("metrics", "m1", 10, pending=False)) == 2
    store.stream.ack("metrics", [e.entry_id for e in read[1:]])

    store.record_events(_clicks(4, 2), DataSettings(), 10)
    assert consume(store, lake).added == 2
    # "metrics" has not acknowledged click-2 and click-3: they and the new entries stay.
    assert store.stream.length() == 4


def test_the_consumer_waits_for_a_writer_that_holds_the_lake(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 3), DataSettings(), 10)
    summaries = []
    with writer_lock(lake):  # what a running `starling ingest` holds
        consumer = threading.Thread(target=lambda: summaries.append(consume(store, lake)))
        consumer.start()
        consumer.join(timeout=1.0)
        assert consumer.is_alive() and not lake.exists()
    consumer.join(timeout=30)
    assert summaries[0].added == 3
    assert _lake_ids(lake) == _click_keys(range(3))


def test_an_entry_that_is_not_an_event_is_quarantined_and_the_rest_lands(
    store: OnlineStore, tmp_path
) -> None:
    lake = tmp_path / "events"
    store.record_events(_clicks(0, 2), DataSettings(), 10)
    # Written by hand, as a buggy producer or a person with redis-cli would.
    store.client.xadd(EVENT_STREAM, {"user_id": "1", "item_id": "2"})
    store.client.xadd(EVENT_STREAM, {**_clicks(9, 1)[0].to_stream(), "ts": "yesterday"})
    store.record_events(_clicks(2, 2), DataSettings(), 10)
    summary = consume(store, lake, batch=3)
    assert (summary.read, summary.added, summary.quarantined) == (6, 4, 2)
    assert _lake_ids(lake) == _click_keys(range(4))
    kept = pq.read_table(tmp_path / "quarantine", schema=QUARANTINE).to_pylist()
    reasons = sorted(row["reason"] for row in kept)
    assert reasons[0].startswith("invalid literal for int()") and "yesterday" in reasons[0]
    assert reasons[1] == "missing field 'event_id'"
    assert {row["source"].split()[0] for row in kept} == {"redis"}
    # Acknowledged like the rest: nothing is left to read, and the stream is trimmed.
    assert consume(store, lake).read == 0 and store.stream.length() == 0


def test_what_the_streams_cap_drops_before_landing_is_counted(redis_url: str, store, tmp_path):
    lake = tmp_path / "events"
    capped = OnlineStore(redis_url, stream_max_len=1000)
    for first in range(0, 3000, 500):
        capped.append_events(_clicks(first, 500))
    held = capped.stream.length()
    assert 1000 <= held < 3000
    summary = consume(capped, lake)
    assert (summary.read, summary.added, summary.dropped) == (held, held, 3000 - held)
    # The totals last beyond the run: /metrics and /admin/stream read them.
    status = LandingTotals(capped.client, GROUP).status(capped.stream.length())
    assert (status.landed, status.dropped, status.stream_length) == (held, 3000 - held, 0)
    capped.append_events(_clicks(3000, 10))
    assert consume(capped, lake).dropped == 0


def test_each_batch_adds_a_file_until_a_month_is_merged(store: OnlineStore, tmp_path) -> None:
    lake = tmp_path / "events"
    month = lake / "month=2026-11"
    for first in (1, 3):
        store.record_events(_clicks(first, 2), DataSettings(), 10)
        consume(store, lake, compact=3)
    assert sorted(p.name.split("-")[0] for p in month.iterdir()) == ["stream", "stream"]
    store.record_events(_clicks(5, 2), DataSettings(), 10)
    consume(store, lake, compact=3)
    assert len(list(month.iterdir())) == 3
    store.record_events(_clicks(7, 2), DataSettings(), 10)
    summary = consume(store, lake, compact=3)
    assert [p.name for p in month.iterdir()] == ["part-0.parquet"]
    assert summary.lake_rows == 8 and _lake_ids(lake) == _click_keys(range(1, 9))
