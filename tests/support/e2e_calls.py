"""HTTP and CLI calls the e2e tests make against the running app, with the test keys."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.e2e.conftest import WRITE_KEY
from tests.support.running_app import RunningApp


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def recommend(app: RunningApp, body: dict, key: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{app.url}/recommend", json=body, headers=auth(key) if key else {}, timeout=30
    )


def post_events(app: RunningApp, events: list[dict], key: str | None = WRITE_KEY) -> httpx.Response:
    headers = auth(key) if key else {}
    return httpx.post(f"{app.url}/events", json={"events": events}, headers=headers, timeout=30)


def user_summary(app: RunningApp, user_id: int, key: str | None = WRITE_KEY) -> httpx.Response:
    return httpx.get(f"{app.url}/users/{user_id}", headers=auth(key) if key else {}, timeout=30)


def cli(app: RunningApp, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", *args],
        env=app.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
