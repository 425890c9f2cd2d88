"""`starling up` in a subprocess on a small synthetic set, for the suites that talk to a running
app over HTTP (tests/e2e, tests/chaos)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.running_app import RunningApp
from tests.support.trained_home import NOT_COPIED, SMALL_HOME_ENV, keep_as_template

# Generous: on a 2-core machine shared with other jobs, `starling up` alone took over 7 minutes.
STARTUP_TIMEOUT_S = 900


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def started_app(
    home: Path, settings_env: dict[str, str], template: Path | None = None
) -> Iterator[RunningApp]:
    """`starling up` on `home` with the small set, free ports and `settings_env` on top of this
    process's environment; yields once it says it is up, stops it with Ctrl-C afterwards and
    fails the test if it did not exit cleanly. With a `template` (a folder, maybe not there
    yet), the home starts as a copy of the trained home there (`starling up` skips every step
    whose output is fresh), or is copied there once it has trained."""
    if template is not None and template.is_dir():
        shutil.copytree(template, home, dirs_exist_ok=True, ignore=NOT_COPIED)
    port = free_port()
    env = {
        **os.environ,
        **SMALL_HOME_ENV,
        "STARLING_NUM_CPUS": "2",
        "STARLING_HOME": str(home),
        "STARLING_HTTP_PORT": str(port),
        "STARLING_REDIS_PORT": str(free_port()),
        # HAProxy's stats and metrics ports too: two apps on one machine (a developer's beside
        # the suite's) would fight over the fixed defaults.
        "STARLING_INGRESS_STATS_PORT": str(free_port()),
        "STARLING_INGRESS_METRICS_PORT": str(free_port()),
        **settings_env,
    }
    log = home / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli.main", "up"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while "Starling is up at" not in log.read_text():
            if process.poll() is not None:
                pytest.fail(f"starling up exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"starling up not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(1)
        if template is not None and not template.is_dir():
            keep_as_template(home, template)  # before any test writes to the app
        yield RunningApp(f"http://127.0.0.1:{port}", home, log, env, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
