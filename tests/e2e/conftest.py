"""The app every e2e test talks to: one `starling up` on a small synthetic set per run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.control.serve_config import DEFAULT_CONFIG
from tests.support.running_app import RunningApp

WRITE_KEY = "e2e-write-key"
ADMIN_KEY = "e2e-admin-key"
# Two experiments side by side: one serves the trained ranker through the Rank pool's model
# multiplexing, the other gives half the users more MMR diversity.
EXPERIMENTS: list[dict[str, Any]] = [
    {
        "name": "ranker",
        "salt": "e2e",
        "variants": [
            {"name": "control", "weight": 1},
            {"name": "mlp_v1", "weight": 1, "rank_model": "mlp/v1"},
        ],
    },
    {
        "name": "diversity",
        "salt": "e2e-div",
        "variants": [
            {"name": "mmr", "weight": 1},
            {"name": "diverse", "weight": 1, "rerank": {"mmr_lambda": 0.5}},
        ],
    },
]

# Generous: on a 2-core machine shared with other jobs, `starling up` alone took over 7 minutes.
STARTUP_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Package-scoped (tests/e2e has an __init__.py for it): the app stops after the last e2e test
# instead of idling beside every integration and unit test that runs after it.
@pytest.fixture(scope="package")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    home = tmp_path_factory.mktemp("home")
    port = _free_port()
    serve_config = home / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, serve_config)
    env = {
        **os.environ,
        "STARLING_HOME": str(home),
        "STARLING_HTTP_PORT": str(port),
        "STARLING_REDIS_PORT": str(_free_port()),
        "STARLING_NUM_CPUS": "2",
        "STARLING_DATA__SYNTH_USERS": "300",
        "STARLING_DATA__SYNTH_ITEMS": "400",
        "STARLING_DATA__SYNTH_RATINGS": "30000",
        "STARLING_ITEM_BAG__EPOCHS": "10",
        "STARLING_RANK__EPOCHS": "1",
        "STARLING_WRITE_API_KEYS": json.dumps([WRITE_KEY]),
        "STARLING_ADMIN_API_KEYS": json.dumps([ADMIN_KEY]),
        "STARLING_EXPERIMENTS": json.dumps(EXPERIMENTS),
        # The ops tests scale deployments, which rewrites the serve config: a copy takes it.
        "STARLING_SERVE_CONFIG": str(serve_config),
    }
    log = home / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli.main", "up"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while "Starling is up at" not in log.read_text():
            if process.poll() is not None:
                pytest.fail(f"starling up exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"starling up not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(1)
        yield RunningApp(url, home, log, env, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
