"""Redis stopped and killed while events are recorded: every event whose recording returned
lands in the lake exactly once after it comes back (the embedded Redis's append-only file,
`appendfsync everysec`: an answered write is in the file before the answer)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis

from cluster.runtime.local_redis import LocalRedis
from core.data_settings import DataSettings
from core.event_key import text_keys
from core.events import LoggedEvent
from core.online_store import OnlineStore
from core.stream_settings import StreamSettings
from core.tables import EVENTS
from ingest.stream.consumer import consume_events
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

WRITERS = 3


class Writers:
    """Threads recording one click after another, each with its own client, as Gateway
    replicas do; what returned is acknowledged, what raised is not (a client would retry)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[str] = []
        self.attempted: list[str] = []
        self.failures = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,)) for w in range(WRITERS)]

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, writer: int) -> None:
        store = OnlineStore(self.url)
        number = 0
        while not self._stop.is_set():
            event = LoggedEvent(
                event_id=f"w{writer}-{number}",
                user_id=writer * 100 + number % 20,
                item_id=number % 300 + 1,
                event_type="click",
                value=1.0,
                ts=datetime.now(UTC),
                source="api",
            )
            number += 1
            self.attempted.append(event.event_id)
            try:
                recorded = store.record_events([event], DataSettings(), 10)
            except redis.RedisError:
                self.failures += 1
                time.sleep(0.02)
                continue
            self.acknowledged.extend(e.event_id for e in recorded)

    def count(self) -> int:
        return len(self.acknowledged)


def _wait_for_more(writers: Writers, more: int, timeout_s: float = 20) -> None:
    target = writers.count() + more
    deadline = time.monotonic() + timeout_s
    while writers.count() < target:
        assert time.monotonic() < deadline, "the writers stopped recording"
        time.sleep(0.01)


def test_no_acknowledged_event_is_lost_when_redis_restarts_or_dies(tmp_path: Path) -> None:
    server = LocalRedis(tmp_path / "redis", free_port())
    server.start()
    try:
        with Writers(server.url) as writers:
            _wait_for_more(writers, 200)
            server.stop()  # SIGTERM: a restart
            server.start()
            _wait_for_more(writers, 200)
            assert server.process is not None
            server.process.kill()  # SIGKILL: a crash of redis-server, the OS keeps running
            server.process.wait()
            server.process = None
            server.start()
            _wait_for_more(writers, 200)
        assert writers.failures > 0, "the writers never saw Redis go away"
        lake = tmp_path / "events"
        consume_events(OnlineStore(server.url), lake, tmp_path / "quarantine", StreamSettings())
    finally:
        server.stop()
    landed = pq.read_table(lake, schema=EVENTS).column("event_id").to_pylist()
    assert len(landed) == len(set(landed)), "an event landed twice"
    missing = set(text_keys(writers.acknowledged).tolist()) - set(landed)
    assert not missing, f"{len(missing)} acknowledged events are not in the lake"
    # Only what was attempted lands: a write that raised may still have been applied.
    assert set(landed) <= set(text_keys(writers.attempted).tolist())
