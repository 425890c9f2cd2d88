"""Deploying the app on the connected Ray cluster and waiting until it answers."""

from __future__ import annotations

import logging
import time

import httpx
from ray import serve

from cluster.app import compose
from cluster.gateway import APP_NAME
from cluster.serve_config import DEFAULT_CONFIG, load_serve_config
from core.settings import Settings

log = logging.getLogger(__name__)


class DeployError(RuntimeError):
    """The app did not come up."""


def base_url(settings: Settings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


def deploy(settings: Settings, timeout_s: float = 120.0) -> str:
    """Deploy the app with the options of serve_config.yaml; returns its base URL once healthy."""
    config = load_serve_config(DEFAULT_CONFIG)
    app_config = config.app(APP_NAME)
    options = {d.name: d.options() for d in app_config.deployments}
    serve.start(
        http_options={
            **config.http_options,
            "host": settings.http_host,
            "port": settings.http_port,
        },
        logging_config=config.logging_config or None,
    )
    serve.run(
        compose(settings, options),
        name=APP_NAME,
        route_prefix=app_config.route_prefix,
        logging_config=config.logging_config or None,
    )
    url = base_url(settings)
    wait_healthy(url, timeout_s)
    return url


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
