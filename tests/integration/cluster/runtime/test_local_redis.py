"""The embedded Redis dies with the process that started it, and a next start of the same home
takes over a server whose owner is gone instead of refusing the port."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cluster.runtime.local_redis import LocalRedis, LocalRedisError
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[4]
# `starling up`'s code path, in a process of its own; `unowned` leaves out the death signal,
# as on a system without one.
OWNER = """
import sys, time
from pathlib import Path
from cluster.runtime import local_redis
if sys.argv[3] == "unowned":
    local_redis._die_with = lambda owner: None
server = local_redis.LocalRedis(Path(sys.argv[1]), int(sys.argv[2]))
server.start()
local_redis.redis.Redis.from_url(server.url).set("kept", "yes")
print(server.process.pid, flush=True)
time.sleep(600)
"""


def _kill_owner(data: Path, port: int, mode: str) -> None:
    """Start the Redis in an owner process, then SIGKILL the owner."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data), str(port), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip().isdigit()
    owner.send_signal(signal.SIGKILL)
    owner.wait()


def _answers(port: int) -> bool:
    try:
        client = redis.Redis(port=port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        return bool(client.ping())
    except redis.RedisError:
        return False


def _restart_keeps_the_data(data: Path, port: int) -> None:
    server = LocalRedis(data, port)
    server.start()
    try:
        assert redis.Redis.from_url(server.url).get("kept") == b"yes"
    finally:
        server.stop()


def test_the_server_exits_when_its_owner_is_killed(tmp_path: Path) -> None:
    port = free_port()
    _kill_owner(tmp_path, port, "owned")
    deadline = time.monotonic() + 10
    while _answers(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _answers(port)
    _restart_keeps_the_data(tmp_path, port)


def test_a_next_start_takes_over_a_server_whose_owner_is_gone(tmp_path: Path) -> None:
    port = free_port()
    _kill_owner(tmp_path, port, "unowned")
    assert _answers(port)  # left running, holding the port
    _restart_keeps_the_data(tmp_path, port)


def test_a_live_owner_or_another_homes_server_is_never_taken_over(tmp_path: Path) -> None:
    port = free_port()
    running = LocalRedis(tmp_path / "home", port)
    running.start()
    try:
        for data in (tmp_path / "home", tmp_path / "other"):
            with pytest.raises(LocalRedisError, match="already has a Redis"):
                LocalRedis(data, port).start()
        assert _answers(port)
    finally:
        running.stop()


def test_a_home_whose_data_takes_long_to_load_still_starts(tmp_path: Path) -> None:
    # A large home: millions of keys, rewritten into the AOF the next start reads.
    data, port = tmp_path / "home", free_port()
    first = LocalRedis(data, port)
    first.start()
    client = redis.Redis.from_url(first.url)
    client.execute_command("DEBUG", "POPULATE", 3_000_000, "key", 64)
    client.bgrewriteaof()
    while client.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.1)
    first.stop()

    # Loading takes seconds: far more than a silent server is given.
    second = LocalRedis(data, port)
    began = time.monotonic()
    second.start(timeout_s=0.5)
    try:
        assert time.monotonic() - began > 0.5
        assert redis.Redis.from_url(second.url).dbsize() == 3_000_000
    finally:
        second.stop()
