"""Deploying the app declaratively on the connected Ray cluster and waiting until it answers."""

from __future__ import annotations

import logging
import time

import httpx
import ray
from ray import serve
from ray.serve.context import _get_global_client
from ray.serve.schema import ServeDeploySchema

from cluster.app import DEPLOYMENTS, serving_refs
from cluster.gateway import APP_NAME
from cluster.serve_config import declarative_config
from core.paths import StarlingPaths
from core.settings import Settings

log = logging.getLogger(__name__)
ADDRESS_FILE = "ray_address"


class DeployError(RuntimeError):
    """The app did not come up."""


def base_url(settings: Settings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


def deploy(settings: Settings, timeout_s: float = 120.0) -> str:
    """Apply serve_config.yaml with these Settings and the serving model versions; returns the
    app's base URL once healthy. Redeploying a running app with only replicas or model versions
    changed updates its replicas in place instead of restarting them."""
    refs = serving_refs(settings)
    user_configs = {
        DEPLOYMENTS[kind]: {"name": ref.name, "version": ref.version} for kind, ref in refs.items()
    }
    config = declarative_config(settings, APP_NAME, user_configs)
    serve.start(
        proxy_location=config.proxy_location,
        http_options=config.http_options.model_dump(exclude_unset=True),
        logging_config=config.logging_config,
    )
    apply_config(config)
    wait_running(timeout_s)
    record_address(settings)
    url = base_url(settings)
    wait_healthy(url, timeout_s)
    return url


def apply_config(config: ServeDeploySchema) -> None:
    """What `serve deploy` and the dashboard's PUT /api/serve/applications/ do, without needing
    the dashboard: hand the whole declarative config to the Serve controller."""
    _get_global_client().deploy_apps(config)


def wait_running(timeout_s: float) -> None:
    """Wait until the app's status is RUNNING; a failed deploy raises with Serve's reason."""
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = serve.status().applications.get(APP_NAME)
        if status is not None and status.status == "RUNNING":
            return
        if status is not None and status.status == "DEPLOY_FAILED":
            raise DeployError(f"deploying {APP_NAME} failed: {status.message}")
        time.sleep(0.5)
    state = status.status if status is not None else "not deployed"
    raise DeployError(f"{APP_NAME} not running after {timeout_s:.0f} s ({state})")


def wait_healthy(url: str, timeout_s: float) -> None:
    """Poll /healthz until it answers 200."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/healthz", timeout=5)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.5)
    raise DeployError(f"{url}/healthz not healthy after {timeout_s:.0f} s: {last}")


def record_address(settings: Settings) -> None:
    """Leave the cluster's address in the home, so that `starling scale` and `starling models
    promote` find the app that `starling up` or `starling serve` runs."""
    path = StarlingPaths(settings.home).runtime / ADDRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ray.get_runtime_context().gcs_address)


def recorded_address(settings: Settings) -> str | None:
    path = StarlingPaths(settings.home).runtime / ADDRESS_FILE
    return path.read_text().strip() if path.is_file() else None


def forget_address(settings: Settings) -> None:
    (StarlingPaths(settings.home).runtime / ADDRESS_FILE).unlink(missing_ok=True)
