"""CLI commands from a user's second shell reach the running app's Ray by themselves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import ADMIN_KEY
from tests.support.running_app import RunningApp

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _scale_rank(app: RunningApp, replicas: int) -> httpx.Response:
    body = {"deployment": "Rank", "num_replicas": replicas}
    return httpx.post(f"{app.url}/admin/scale", json=body, headers=ADMIN, timeout=180)


@pytest.fixture
def one_rank_replica(app: RunningApp) -> Iterator[None]:
    """Leave Rank at one replica after the test, whatever it did."""
    yield
    assert _scale_rank(app, 1).status_code == 200


def test_starling_scale_from_a_second_terminal_reaches_the_app_without_ray_settings(
    app: RunningApp, one_rank_replica: None
) -> None:
    # A user's second shell: the home, nothing of Ray's (the app's Ray has token auth on).
    env = {k: v for k, v in app.env.items() if not k.startswith("RAY_")}
    env["STARLING_HOME"] = str(app.home)

    done = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", "scale", "Rank", "--replicas", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    status = httpx.get(f"{app.url}/admin/status", headers=ADMIN, timeout=30).json()
    rank = next(d for d in status["deployments"] if d["name"] == "Rank")
    assert rank["target_replicas"] == 2
