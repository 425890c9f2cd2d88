"""A local Ray that `starling up` starts: the home's generated keys reach its workers, as the
Gateway replicas read them, and `--dashboard` serves Ray's dashboard on loopback behind Ray's
token."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import ray

from cluster.app.api_keys import ApiKeys, Scope
from cluster.runtime.local_keys import ensure_local_keys
from cluster.runtime.local_ray import dashboard_url
from cluster.runtime.session import ADMIN_KEYS_VARIABLE, WRITE_KEYS_VARIABLE, ray_runtime
from core.settings import Settings

pytestmark = pytest.mark.integration
# Ray writes its token here for a local cluster unless the environment names another.
RAY_TOKEN = Path.home() / ".ray" / "auth_token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@ray.remote(num_cpus=0)
def _scope_in_a_worker(key: str) -> str | None:
    """What a Gateway replica, built from its own environment's Settings, makes of `key`."""
    return ApiKeys.from_settings(Settings()).scope_of(key)


def test_keys_reach_the_workers_and_the_dashboard_asks_for_ray_s_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This module needs a Ray of its own, started as `starling up` starts it.
    if ray.is_initialized():
        ray.shutdown()
    for variable in (ADMIN_KEYS_VARIABLE, WRITE_KEYS_VARIABLE, "RAY_AUTH_MODE"):
        monkeypatch.delenv(variable, raising=False)
    port = _free_port()
    given = Settings(
        home=tmp_path, num_cpus=1, ray_dashboard=True, ray_dashboard_port=port, redis_port=1
    )
    settings, keys = ensure_local_keys(given)
    assert keys is not None
    with ray_runtime(settings):
        admin, write = keys.admin.get_secret_value(), keys.write.get_secret_value()
        assert ray.get(_scope_in_a_worker.remote(admin)) == Scope.ADMIN
        assert ray.get(_scope_in_a_worker.remote(write)) == Scope.WRITE
        assert ray.get(_scope_in_a_worker.remote("guess")) is None

        url = dashboard_url(settings)
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/jobs/", timeout=30).status_code == 401
        token = RAY_TOKEN.read_text().strip()
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/api/jobs/", headers=bearer, timeout=30).status_code == 200
        # Loopback only: the machine's other addresses do not answer.
        outside = socket.gethostbyname(socket.gethostname())
        if not outside.startswith("127."):
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{outside}:{port}/api/healthz", timeout=5)
    assert dashboard_url(settings) is None
