"""Starting and stopping the runtime parts the CLI needs: Ray and the embedded Redis."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any, NoReturn

import ray

from cluster.runtime.local_ray import (
    dashboard_options,
    forget_dashboard,
    record_dashboard,
    start_local_ray,
)
from cluster.runtime.local_redis import LocalRedis
from core.paths import StarlingPaths
from core.settings import Settings
from ingest.features.feature_io import configure_ray_data

log = logging.getLogger(__name__)
CLIENT_CONNECT_ATTEMPTS = 3
CLIENT_RETRY_PAUSE_S = 2.0
CLIENT_SERVER_FAILED = "Starting Ray client server failed"
# Ray's own name for it, lower case included.
WORKER_NICENESS_VARIABLE = "RAY_worker_niceness"
# The first name Settings reads redis_url from, so it wins in a replica's environment.
REDIS_URL_VARIABLE = "REDIS_URL"
# The names Settings reads the API keys from.
ADMIN_KEYS_VARIABLE = "STARLING_ADMIN_API_KEYS"
WRITE_KEYS_VARIABLE = "STARLING_WRITE_API_KEYS"
# The names Settings reads Milvus's secrets from.
MILVUS_PASSWORD_VARIABLE = "STARLING_MILVUS__PASSWORD"
MILVUS_TOKEN_VARIABLE = "STARLING_MILVUS__TOKEN"


def _interrupt(_signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, even where the shell ignored SIGINT."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def set_worker_niceness(settings: Settings) -> None:
    """Run a local Ray's workers at `settings.ray_worker_niceness`; a value already set in
    RAY_worker_niceness wins. Ray starts workers at 15 so that heavy tasks leave its own
    processes room; Serve replicas are latency work, and at 15 any other process takes their
    CPU. With the replicas at 0, p99 at 50 requests/s on 2 cores went from 30-126 ms over
    nine runs (median 66) to 38-48 ms over three (bench/results/serve.txt)."""
    os.environ.setdefault(WORKER_NICENESS_VARIABLE, str(settings.ray_worker_niceness))


def share_redis_url(settings: Settings) -> None:
    """Put this process's REDIS_URL, whatever its source (.env, a flag), in the environment a
    local Ray's replicas inherit: a URL with a password stays out of the Serve config
    (cluster/control/serve_config.py, app_args), and replicas read it from there."""
    if settings.redis_url:
        os.environ[REDIS_URL_VARIABLE] = settings.redis_url


# Ray's notices that say nothing to a `starling` user: token auth is on (the CLI says where the
# token is when it matters, for the dashboard), and Ray Data's own bars are off (ours show).
QUIETED_RAY_LOGGERS = (
    "ray._private.authentication.authentication_token_setup",
    "ray.data._internal.progress",
)


def share_api_keys(settings: Settings) -> None:
    """Put this process's API keys, whatever their source (.env, the home's generated keys), in
    the environment a local Ray's replicas inherit: keys stay out of the Serve config
    (cluster/control/serve_config.py, app_args), and replicas read them from there."""
    for variable, keys in (
        (ADMIN_KEYS_VARIABLE, settings.admin_api_keys),
        (WRITE_KEYS_VARIABLE, settings.write_api_keys),
    ):
        if keys:
            os.environ[variable] = json.dumps([key.get_secret_value() for key in keys])


def share_milvus_credentials(settings: Settings) -> None:
    """Put this process's Milvus password or token, whatever their source (.env, a flag), in the
    environment a local Ray's replicas inherit: they stay out of the Serve config
    (core/milvus_settings.py), and replicas read them from there."""
    for variable, secret in (
        (MILVUS_PASSWORD_VARIABLE, settings.milvus.password),
        (MILVUS_TOKEN_VARIABLE, settings.milvus.token),
    ):
        if secret is not None:
            os.environ[variable] = secret.get_secret_value()


def _connect(address: str, options: dict[str, Any]) -> None:
    """ray.init on an existing cluster. Through Ray Client, the head starts a server process per
    client; seen here twice under load (once in CI), that process exited at start with an empty
    log and the connection failed ("Starting Ray client server failed"). The next connection
    gets a new process, so a few more tries are cheap and the failure is not the user's."""
    for attempt in range(CLIENT_CONNECT_ATTEMPTS):
        try:
            ray.init(address=address, **options)
            return
        except ConnectionAbortedError as error:
            last = attempt == CLIENT_CONNECT_ATTEMPTS - 1
            if last or CLIENT_SERVER_FAILED not in str(error):
                raise
            log.warning("Ray Client's server for this connection failed to start; retrying")
            time.sleep(CLIENT_RETRY_PAUSE_S)


@contextmanager
def ray_runtime(settings: Settings) -> Iterator[None]:
    """Connect to RAY_ADDRESS or start a local Ray; shut it down on exit."""
    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {
        "log_to_driver": False,
        "configure_logging": True,
        "logging_level": logging.WARNING,
    }
    for name in QUIETED_RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Exits after Ray's shutdown: the local Ray's HAProxy files live until Ray is gone.
    with ExitStack() as stack:
        if settings.ray_address:
            _connect(settings.ray_address, options)
        else:
            # Here, not at the top: it imports ray.serve (half a second), which a command on an
            # existing cluster (`starling ingest` with RAY_ADDRESS) never needs.
            from cluster.runtime.ingress_listeners import fast_ingress

            stack.enter_context(fast_ingress(settings))
            set_worker_niceness(settings)
            share_redis_url(settings)
            share_api_keys(settings)
            share_milvus_credentials(settings)
            options |= {"num_cpus": settings.num_cpus, **dashboard_options(settings)}
            record_dashboard(settings, start_local_ray(settings, **options))
        configure_ray_data()
        # ray.init replaces the driver's SIGTERM handler with one that exits at once; ours turns
        # SIGINT and SIGTERM into KeyboardInterrupt so that Serve, Ray and Redis stop in order.
        interrupt_on_signals()
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        try:
            yield
        finally:
            # An app deployed to an existing cluster outlives this process; a local one drains
            # first. Serve can only run on the Ray this process started if this process
            # imported it.
            if not settings.ray_address and "ray.serve" in sys.modules:
                from ray import serve

                serve.shutdown()
            ray.shutdown()
            forget_dashboard(settings)


@contextmanager
def online_store_runtime(settings: Settings) -> Iterator[None]:
    """Start the embedded Redis unless REDIS_URL names one; stop it on exit."""
    if settings.redis_url:
        yield
        return
    if settings.ray_address:
        # An app deployed to an existing cluster outlives this command, and replicas on other
        # machines cannot reach this machine's 127.0.0.1.
        log.warning(
            "RAY_ADDRESS is set but REDIS_URL is not: the embedded Redis runs on this machine "
            "only while this command runs; set REDIS_URL to a Redis every Ray node reaches"
        )
    server = LocalRedis(StarlingPaths(settings.home).redis_dir, settings.redis_port)
    server.start()
    try:
        yield
    finally:
        server.stop()


@contextmanager
def full_runtime(settings: Settings) -> Iterator[None]:
    """Redis first, then Ray; stopped in reverse order."""
    with ExitStack() as stack:
        stack.enter_context(online_store_runtime(settings))
        stack.enter_context(ray_runtime(settings))
        yield
