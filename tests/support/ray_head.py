"""A `ray start --head` cluster of its own, for tests of what users do against a started cluster
(`serve deploy`, Ray Client, job submission)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from tests.integration.conftest import free_port

ROOT = Path(__file__).parents[2]


class HeadCluster(NamedTuple):
    gcs: str
    dashboard: str
    client: str
    http_port: int


@pytest.fixture(scope="module")
def ray_head() -> Iterator[HeadCluster]:
    """A `ray start --head` cluster of its own on free ports, with the HTTP port its app gets.
    Stopped by signalling its `--block` process, which takes its children down: a plain
    `ray stop` would stop every Ray on the machine."""
    temp = tempfile.mkdtemp(prefix="rayhead", dir="/tmp")
    # Above 24000: Ray Client's per-client servers listen from 23000 up, and one whose port a
    # worker holds exits at start ("Starting Ray client server failed").
    workers = 24000 + free_port() % 30000
    worker_range = range(workers, workers + 101)
    ports: dict[str, int] = {}

    def unused() -> int:
        # Ray refuses to start when a component's port falls in the worker port range.
        port = free_port()
        while port in worker_range or port in ports.values():
            port = free_port()
        return port

    for flag in (
        "port",
        "dashboard-port",
        "node-manager-port",
        "object-manager-port",
        "ray-client-server-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
        "metrics-export-port",
    ):
        ports[flag] = unused()
    command = [
        str(Path(sys.executable).with_name("ray")),
        *("start", "--head", "--block", "--num-cpus", "2", "--disable-usage-stats"),
        *("--temp-dir", temp, "--min-worker-port", str(workers)),
        *("--max-worker-port", str(workers + 100)),
        *(arg for flag, port in ports.items() for arg in (f"--{flag}", str(port))),
    ]
    # Workers import cluster.app.build from this checkout, whatever the venv has installed.
    # Stopping it drains the node first, as a pod's Ray does for a rolling upgrade: up to 30 s
    # of teardown per module, for a cluster nobody uses any more.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    log = Path(temp) / "ray_start.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        dashboard = f"http://127.0.0.1:{ports['dashboard-port']}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{dashboard}/api/version", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        yield HeadCluster(
            gcs=f"127.0.0.1:{ports['port']}",
            dashboard=dashboard,
            client=f"ray://127.0.0.1:{ports['ray-client-server-port']}",
            http_port=unused(),
        )
    finally:
        # Shown by pytest when a test failed because the cluster did; a Ray Client connection
        # that failed left its reason in the specific server's log, removed with the folder.
        sys.stderr.write(log.read_text()[-3000:])
        for client_log in sorted(Path(temp).glob("session_latest/logs/ray_client_server*.err")):
            sys.stderr.write(f"{client_log.name}:\n{client_log.read_text()[-3000:]}\n")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(temp, ignore_errors=True)
