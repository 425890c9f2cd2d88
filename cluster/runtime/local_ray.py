"""Starting a fresh Ray on this machine, patient with a loaded 2-core machine."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psutil
import ray
from ray._common.utils import get_default_ray_temp_dir

from core.errors import StarlingError
from core.paths import StarlingPaths
from core.settings import Settings

log = logging.getLogger(__name__)
# Ray's own name for it, lower case included.
GCS_WAIT_VARIABLE = "RAY_gcs_server_port_wait_time_s"
# What ray.init raises when the new node's raylet has not registered with the GCS in the 30 s
# Ray allows it; the wait is fixed in Ray's code, no setting reaches it.
RAYLET_TIMEOUT = "timed out during startup"
LOG_TAIL_CHARS = 2000
# Ray's own name for it. A new local Ray turns token auth on when it is unset; this process can
# not turn it on itself once Ray is imported (Ray's C++ side has read its config by then).
AUTH_MODE_VARIABLE = "RAY_AUTH_MODE"
# Loopback only: nothing in the dashboard is for other machines of a one-machine set-up.
DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_URL_FILE = "ray_dashboard_url"
# Ray Train's controller polls its workers every 2 s (Ray's default), so a fit ended up to 4 s
# after its workers had: measured on two cores, a fit of one worker that only reports once took
# 15 s at 2 s and 10.5 s at 0.5 s. A fit's controller reads it from the environment its Ray's
# processes inherit from this one; a setting already in the environment wins.
TRAIN_POLL_VARIABLE = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"
TRAIN_POLL_S = "0.5"


def use_token_auth_of_local_ray() -> None:
    """Sign this process in with the local token (~/.ray/auth_token) when one exists and
    RAY_AUTH_MODE does not say otherwise, before it connects to a Ray `starling up` started.

    Such a Ray has token auth on (a new local Ray's default), but Ray turns a client's token
    auth on by itself only for a cluster it finds on its own (`ray.init()`), never for an
    address it is given: without this, `starling learn`, `scale` and `models promote` from a
    second terminal stopped with "cannot reach the Ray cluster" unless RAY_AUTH_MODE=token was
    exported. Ray's own function for its own case, so that the token is read as Ray reads it.
    """
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def start_gcs_patiently(settings: Settings) -> None:
    """Give a local Ray's GCS `settings.gcs_start_timeout_s` to start (Ray's default is 30 s).

    On a loaded 2-core machine (a test suite, a training run beside it) the GCS has been seen to
    take longer than 30 s to write its port file, and ray.init then fails outright. Ray reads
    the wait only from its environment.
    """
    os.environ[GCS_WAIT_VARIABLE] = str(settings.gcs_start_timeout_s)


def _startup_log_tails() -> str:
    """The end of the new node's GCS and raylet logs: when the raylet never wrote one (seen in
    this failure), the GCS log tells whether the driver's node queries reached it."""
    logs = Path(get_default_ray_temp_dir()) / "session_latest" / "logs"
    tails = [
        f"{path.name}: {path.read_text(errors='replace')[-LOG_TAIL_CHARS:]}"
        for pattern in ("gcs_server.*", "raylet.*")
        for path in sorted(logs.glob(pattern))
        if path.is_file()
    ]
    return "\n".join(tails) or f"no GCS or raylet log in {logs}"


def _stop_processes_started_since(before: set[int]) -> None:
    """Kill this process's descendants that were not there before: a failed ray.init leaves its
    GCS, raylet and agents running, and they would hold CPU and memory until this process ends."""
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    for process in started:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(started, timeout=10)


class DashboardAuthError(StarlingError):
    """The dashboard was asked for where Ray's token auth is off."""


def dashboard_options(settings: Settings) -> dict[str, Any]:
    """ray.init's dashboard options for `settings`. The dashboard shows every actor, log and job
    of the cluster, so it runs only with Ray's token auth, which asks for the token (from
    `ray get-auth-token`) when the page is first opened."""
    if not settings.ray_dashboard:
        return {"include_dashboard": False}
    mode = os.environ.get(AUTH_MODE_VARIABLE, "token")
    if mode.lower() != "token":
        raise DashboardAuthError(
            f"the Ray dashboard runs only with Ray's token auth; {AUTH_MODE_VARIABLE}={mode} "
            "switches it off: unset it, or start without --dashboard"
        )
    return {
        "include_dashboard": True,
        "dashboard_host": DASHBOARD_HOST,
        "dashboard_port": settings.ray_dashboard_port,
    }


def _dashboard_file(settings: Settings) -> Path:
    return StarlingPaths(settings.home).runtime / DASHBOARD_URL_FILE


def record_dashboard(settings: Settings, address: str | None) -> None:
    """Leave the dashboard's URL in the home while the local Ray runs: Ray moves to another port
    when the configured one is taken, and the ops page links to the one it got."""
    if not address:
        return
    path = _dashboard_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(address if "://" in address else f"http://{address}")


def forget_dashboard(settings: Settings) -> None:
    _dashboard_file(settings).unlink(missing_ok=True)


def dashboard_url(settings: Settings) -> str | None:
    """The URL of the Ray dashboard that `starling up/serve --dashboard` started for this home,
    or None when none runs (off by default; a cluster's own dashboard is not known here)."""
    path = _dashboard_file(settings)
    return path.read_text().strip() if path.is_file() else None


def start_local_ray(settings: Settings, **init_options: Any) -> str | None:
    """`ray.init(address="local", **init_options)`: a Ray of this process's own, never a
    cluster someone else started on this machine (without "local", ray.init joins the last
    `ray start` cluster).

    When the new node's raylet misses Ray's fixed 30 s to register (seen about once in a few
    test-suite runs on 2 cores, when one Ray has just stopped and the next starts), the
    half-started processes are stopped and Ray is started once more; the warning carries the
    GCS's and the raylet's logs so the cause can be read. Returns the dashboard's address when
    one started.
    """
    start_gcs_patiently(settings)
    os.environ.setdefault(TRAIN_POLL_VARIABLE, TRAIN_POLL_S)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        return ray.init(address="local", **init_options).dashboard_url or None
    except Exception as error:
        if RAYLET_TIMEOUT not in str(error):
            raise
        log.warning(
            "the local Ray node did not start (%s); starting it once more. %s",
            error,
            _startup_log_tails(),
        )
    _stop_processes_started_since(before)
    return ray.init(address="local", **init_options).dashboard_url or None
