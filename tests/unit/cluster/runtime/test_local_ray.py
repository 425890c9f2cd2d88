"""Starting a local Ray again when its node missed Ray's fixed registration wait."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from cluster.runtime import local_ray
from core.settings import Settings


class FlakyInit:
    """Stands in for ray.init: the first call starts a process, as a half-started Ray would,
    then fails the way Ray does when the raylet does not register in time."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.orphans: list[subprocess.Popen[bytes]] = []

    def __call__(self, **options: Any) -> SimpleNamespace:
        self.calls.append(options)
        if len(self.calls) == 1:
            self.orphans.append(subprocess.Popen(["sleep", "60"]))
            raise Exception(self.error)
        return STARTED


# What ray.init returns, as far as start_local_ray reads it: a Ray without dashboard.
STARTED = SimpleNamespace(dashboard_url="")


def test_a_node_that_missed_registration_is_stopped_and_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    init = FlakyInit("The current node timed out during startup. This could happen ...")
    monkeypatch.setattr(local_ray.ray, "init", init)
    with caplog.at_level(logging.WARNING, logger=local_ray.__name__):
        local_ray.start_local_ray(Settings(), num_cpus=2)
    assert [call["address"] for call in init.calls] == ["local", "local"]
    assert init.calls[1]["num_cpus"] == 2
    assert "starting it once more" in caplog.text
    # The half-started process of the failed try is gone.
    assert not psutil.pid_exists(init.orphans[0].pid)


def test_other_start_errors_are_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    init = FlakyInit("Failed to connect to Ray cluster")
    monkeypatch.setattr(local_ray.ray, "init", init)
    with pytest.raises(Exception, match="Failed to connect"):
        local_ray.start_local_ray(Settings())
    assert len(init.calls) == 1
    init.orphans[0].kill()
    init.orphans[0].wait()


def test_the_gcs_gets_the_configured_time_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_ray.ray, "init", lambda **_: STARTED)
    monkeypatch.delenv(local_ray.GCS_WAIT_VARIABLE, raising=False)
    local_ray.start_local_ray(Settings(gcs_start_timeout_s=123))
    assert local_ray.os.environ[local_ray.GCS_WAIT_VARIABLE] == "123"


def test_the_dashboard_listens_on_loopback_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(local_ray.AUTH_MODE_VARIABLE, raising=False)
    assert local_ray.dashboard_options(Settings()) == {"include_dashboard": False}
    options = local_ray.dashboard_options(Settings(ray_dashboard=True, ray_dashboard_port=8300))
    assert options == {
        "include_dashboard": True,
        "dashboard_host": "127.0.0.1",
        "dashboard_port": 8300,
    }


@pytest.mark.parametrize("mode", ["disabled", "k8s"])
def test_the_dashboard_is_refused_where_ray_s_token_auth_is_off(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(local_ray.AUTH_MODE_VARIABLE, mode)
    with pytest.raises(local_ray.DashboardAuthError, match=f"RAY_AUTH_MODE={mode}"):
        local_ray.dashboard_options(Settings(ray_dashboard=True))


def test_the_dashboard_url_is_known_while_the_local_ray_runs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert local_ray.dashboard_url(settings) is None
    local_ray.record_dashboard(settings, "127.0.0.1:8266")
    assert local_ray.dashboard_url(settings) == "http://127.0.0.1:8266"
    local_ray.forget_dashboard(settings)
    assert local_ray.dashboard_url(settings) is None
    local_ray.record_dashboard(settings, None)
    assert local_ray.dashboard_url(settings) is None
