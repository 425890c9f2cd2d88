"""Where a change to one deployment's options goes, and where it is kept.

On a plain Ray cluster the running declarative config is handed back to the Serve controller
with the change (Serve applies it in place) and the home's copy of the serve config (or the
file STARLING_SERVE_CONFIG names) keeps it; the packaged file is never written. On KubeRay
(settings.kuberay names the RayService) the operator owns the Serve config and reverts direct
changes, so the RayService is patched instead; it then also keeps the change.

Each change reads a whole config, changes one deployment and writes the whole config back, so
two at once would drop one of them: `serialised` makes them take turns, across threads and
processes, through a lock file beside the serve config they change.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.serve.context import _get_global_client
from ray.serve.schema import ServeDeploySchema, ServeInstanceDetails

from cluster.control.rayservice_patch import RayServiceApi, change_rayservice, rayservice_deployment
from cluster.control.serve_config import (
    changed_config_path,
    config_path,
    load_serve_config,
    update_deployment,
)
from cluster.names import APP_NAME
from core.errors import AppStateError
from core.settings import Settings


class AppNotRunningError(AppStateError):
    """No Starling app runs on the connected Ray cluster."""


# How deep this thread is in `serialised`: an operation holds the lock over several changes
# that take it again, and a second flock of the same file in one process would wait for itself.
_held = threading.local()

# Every Serve config object built in this process pickles its autoscaling policy with
# cloudpickle's by-value registration, which is global and not thread-safe: two threads building
# at once (the ops page's status and its model versions, a scale waiting for replicas) failed one
# of them with "ValueError: <module 'ray.serve.autoscaling_policy'> is not registered for
# pickle by value". The Gateway's admin routes build them one at a time.
_serve_config_lock = threading.Lock()


@contextmanager
def serialised(settings: Settings) -> Iterator[None]:
    """Hold the lock of the deployment changes made with this serve config: one operation at a
    time, on this host (or on every host that shares the file through a filesystem with working
    locks). On KubeRay the pods share no file, and the RayService patch is conditional instead
    (`change_rayservice` rereads and retries), so nothing is locked there."""
    depth = getattr(_held, "depth", 0)
    if depth or settings.kuberay.rayservice:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
        return
    config = changed_config_path(settings)
    config.parent.mkdir(parents=True, exist_ok=True)
    with open(config.with_name(f".{config.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


def apply_config(config: ServeDeploySchema) -> None:
    """What `serve deploy` and the dashboard's PUT /api/serve/applications/ do, without needing
    the dashboard: hand the whole declarative config to the Serve controller."""
    with _serve_config_lock:
        _get_global_client().deploy_apps(config)


def serve_details() -> ServeInstanceDetails:
    if not ray.is_initialized():
        raise AppNotRunningError("not connected to a Ray cluster")
    client = _get_global_client(raise_if_no_controller_running=False)
    if client is None:
        raise AppNotRunningError("Serve is not running on this Ray cluster")
    details = client.get_serve_details()
    with _serve_config_lock:
        return ServeInstanceDetails(**details)


def _apply_to_running(deployment: str, changes: dict[str, Any]) -> bool:
    """Redeploy the running config with one deployment's options changed; False when no app
    runs. The running config (not the file) is the base, so that its args, and with them the
    code version, stay the same and Serve updates replicas in place."""
    try:
        details = serve_details()
    except AppNotRunningError:
        return False
    running = details.applications.get(APP_NAME)
    if running is None or running.deployed_app_config is None:
        return False
    applications = []
    for app in details.applications.values():
        if app.deployed_app_config is None:
            continue
        config = app.deployed_app_config.model_dump(mode="json", exclude_unset=True)
        if app.name == APP_NAME:
            entries = config.setdefault("deployments", [])
            entry = next((d for d in entries if d["name"] == deployment), None)
            if entry is None:
                entry = {"name": deployment}
                entries.append(entry)
            entry.update(changes)
        applications.append(config)
    with _serve_config_lock:
        wanted = ServeDeploySchema.model_validate({"applications": applications})
    apply_config(wanted)
    return True


def change_running(settings: Settings, deployment: str, changes: dict[str, Any]) -> bool:
    """Hand one deployment's new options to whatever owns the running config; True when a
    running app gets them."""
    if settings.kuberay.rayservice:
        change_rayservice(RayServiceApi(settings.kuberay), APP_NAME, deployment, changes)
        return True
    with serialised(settings):
        return _apply_to_running(deployment, changes)


def persist(settings: Settings, deployment: str, changes: dict[str, Any]) -> None:
    """Keep the change for the next deploy: in the serve config file, or on KubeRay in the
    RayService, which `change_running` already patched."""
    if not settings.kuberay.rayservice:
        with serialised(settings):
            update_deployment(changed_config_path(settings), APP_NAME, deployment, changes)


def current_options(settings: Settings, deployment: str) -> dict[str, Any]:
    """One deployment's options as whatever keeps them holds them."""
    if settings.kuberay.rayservice:
        return rayservice_deployment(RayServiceApi(settings.kuberay), APP_NAME, deployment)
    entry = load_serve_config(config_path(settings)).app(APP_NAME).deployment(deployment)
    return entry.model_dump(exclude_none=True)
