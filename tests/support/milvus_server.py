"""A real Milvus standalone server for the tests that need one: PyPI's `milvus` 2.3.5 wheel
(`milvus-server`, with its own etcd and local storage; no internet needed), with or without
authorization."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from pymilvus import MilvusClient

# It listened within 45 s on a quiet 2-core machine; a loaded one is slower.
START_TIMEOUT_S = 240
# The user every Milvus server starts with, and its password until someone changes it.
ROOT_TOKEN = "root:Milvus"
# Ports the wrapper lets us choose; its metrics port (9091) and etcd peer port (2380) are fixed,
# so only one such server runs per machine at a time.
PORT_OPTIONS = (
    "--proxy-port",
    "--etcd-port",
    "--root-coord-port",
    "--proxy-internal-port",
    "--query-coord-port",
    "--query-node-port",
    "--index-coord-port",
    "--index-node-port",
    "--data-coord-port",
    "--data-node-port",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(uri: str) -> bool:
    try:
        client = MilvusClient(uri=uri, timeout=5, token=ROOT_TOKEN)
    except Exception:
        return False
    try:
        client.list_collections()
        return True
    except Exception:
        return False
    finally:
        client.close()


@contextmanager
def milvus_server(data_dir: Path, authorization: bool = False) -> Iterator[str]:
    """`milvus-server` on free ports, its data under `data_dir`; yields its URI and stops it
    with every process it started. With `authorization`, it refuses clients that do not sign
    in (ROOT_TOKEN does), as k8s/milvus.yaml runs it."""
    binary = Path(sys.executable).parent / "milvus-server"
    if not binary.exists():
        pytest.skip("milvus-server is not installed: `pip install milvus==2.3.5` (dev extras)")
    ports = {option: _free_port() for option in PORT_OPTIONS}
    args = [str(binary), "--data", str(data_dir)]
    if authorization:
        # Only ever "true": the wrapper parses the value with bool(), so "false" turns it on too.
        args += ["--authorization-enabled", "true"]
    for option, port in ports.items():
        args += [option, str(port)]
    log = data_dir.with_suffix(".log")
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    uri = f"http://127.0.0.1:{ports['--proxy-port']}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(uri):
            if process.poll() is not None:
                pytest.fail(f"milvus-server exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"milvus-server did not answer in {START_TIMEOUT_S} s")
            time.sleep(1)
        yield uri
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the wrapper and everything it started. Milvus runs in a session of its own, so a
    signal to the wrapper's process group leaves it (and its fixed ports) behind: the next
    server would then never start."""
    family = [process.pid, *(p.pid for p in psutil.Process(process.pid).children(recursive=True))]
    alive = []
    for pid in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            alive.append(psutil.Process(pid))
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    # Its data is thrown away: no need to wait out Milvus's own minute-long graceful stop.
    _, stuck = psutil.wait_procs(alive, timeout=5)
    for member in stuck:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(stuck, timeout=10)
