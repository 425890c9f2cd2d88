"""Starting a local Ray again when its node missed Ray's fixed registration wait."""

from __future__ import annotations

import logging
import subprocess
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

    def __call__(self, **options: Any) -> None:
        self.calls.append(options)
        if len(self.calls) == 1:
            self.orphans.append(subprocess.Popen(["sleep", "60"]))
            raise Exception(self.error)


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
    monkeypatch.setattr(local_ray.ray, "init", lambda **_: None)
    monkeypatch.delenv(local_ray.GCS_WAIT_VARIABLE, raising=False)
    local_ray.start_local_ray(Settings(gcs_start_timeout_s=123))
    assert local_ray.os.environ[local_ray.GCS_WAIT_VARIABLE] == "123"
