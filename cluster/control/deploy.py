"""Deploying the app declaratively on the connected Ray cluster and waiting until it answers."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import ray
from ray import serve

from cluster.app.build import serving_refs
from cluster.control.deployment_changes import AppNotRunningError, apply_config
from cluster.control.serve_config import declarative_config
from cluster.names import APP_NAME, DEPLOYMENTS
from cluster.runtime.local_ray import use_token_auth_of_local_ray
from core.errors import AppStateError
from core.paths import StarlingPaths
from core.settings import Settings

log = logging.getLogger(__name__)
ADDRESS_FILE = "ray_address"


class DeployError(AppStateError):
    """The app did not come up."""


CLIENT_PREFIX = "ray://"
ANY_HOST = "0.0.0.0"
# Every node has this resource on its head; a task asking for a sliver of it runs there.
HEAD_NODE = "node:__internal_head__"


def base_url(settings: Settings) -> str:
    """Where the endpoint answers, as seen from this process. Through Ray Client the proxy runs
    on the cluster's head, not here: it is that host, reachable when the proxy listens on all
    interfaces (`--host 0.0.0.0`)."""
    host = settings.http_host
    if _through_client(settings) and host == ANY_HOST:
        host = _client_host(settings)
    return f"http://{host}:{settings.http_port}"


def _through_client(settings: Settings) -> bool:
    return (settings.ray_address or "").startswith(CLIENT_PREFIX)


def _client_host(settings: Settings) -> str:
    return (settings.ray_address or "").removeprefix(CLIENT_PREFIX).rpartition(":")[0]


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
    if _through_client(settings):
        wait_healthy_on_head(settings, timeout_s)
        if settings.http_host != ANY_HOST:
            log.warning(
                "the endpoint listens on %s of the cluster's nodes only; deploy with --host "
                "0.0.0.0 to reach it from this machine",
                settings.http_host,
            )
    else:
        wait_healthy(base_url(settings), timeout_s)
    return base_url(settings)


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


def wait_healthy_on_head(settings: Settings, timeout_s: float) -> None:
    """Through Ray Client this process is outside the cluster, and the proxy's host may be an
    address only the cluster's nodes reach: ask a task on the head node to poll /healthz."""
    local = f"http://{'127.0.0.1' if settings.http_host == ANY_HOST else settings.http_host}"
    poll = ray.remote(num_cpus=0, resources={HEAD_NODE: 0.001})(wait_healthy)
    ray.get(poll.remote(f"{local}:{settings.http_port}", timeout_s))


def record_address(settings: Settings) -> None:
    """Leave the cluster's address in the home, so that `starling scale` and `starling models
    promote` find the app that `starling up` or `starling serve` runs. Through Ray Client that
    is the client address: the GCS address the cluster reports is internal to it."""
    path = StarlingPaths(settings.home).runtime / ADDRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    address = settings.ray_address if _through_client(settings) else None
    path.write_text(address or ray.get_runtime_context().gcs_address)


def recorded_address(settings: Settings) -> str | None:
    path = StarlingPaths(settings.home).runtime / ADDRESS_FILE
    return path.read_text().strip() if path.is_file() else None


def forget_address(settings: Settings) -> None:
    (StarlingPaths(settings.home).runtime / ADDRESS_FILE).unlink(missing_ok=True)


@contextmanager
def connected(settings: Settings) -> Iterator[bool]:
    """Connect to the Ray cluster that runs the app (RAY_ADDRESS, else the one `starling up`
    recorded in the home); yields False when there is none to reach."""
    if ray.is_initialized():
        yield True
        return
    address = settings.ray_address or recorded_address(settings)
    if address is None or not _reachable(address):
        yield False
        return
    if not settings.ray_address:
        use_token_auth_of_local_ray()
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError) as error:
        raise AppNotRunningError(f"cannot reach the Ray cluster at {address}: {error}") from None
    try:
        yield True
    finally:
        ray.shutdown()


def _reachable(address: str) -> bool:
    """A quick look before ray.init, which waits a minute for a cluster that is gone."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        return True
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False
