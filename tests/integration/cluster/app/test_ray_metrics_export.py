"""One scrape of Ray's metrics export shows Starling's metrics of every replica, each tagged by
Serve with its deployment and replica (the Gateway's recorder, in a deployment of two
replicas on a real local Ray)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
import ray
from ray import serve

from cluster.app.metrics import SERVE_SERIES
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration
APP = "metrics_probe"
# A line of the export: name, then its labels.
_LINE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


def _probe_app() -> serve.Application:
    """Built here, not at module level: Serve ships a class defined in a function by value,
    which a test module's class (imported by pytest under its own name) is not."""
    from cluster.app.metrics import GatewayMetrics
    from core.api import StageTrace

    @serve.deployment(name="MetricsProbe", num_replicas=2, ray_actor_options={"num_cpus": 0.1})
    class MetricsProbe:
        def __init__(self) -> None:
            self.metrics = GatewayMetrics()

        async def __call__(self, _request: object) -> str:
            trace = StageTrace(stage="rank", candidates_in=10, candidates_out=5, ms=7.0)
            self.metrics.recommended([trace], [], 5, 0.02, {"ranker": "mlp"})
            return "ok"

    return MetricsProbe.bind()


@pytest.fixture(scope="module")
def probe_url(ray_local: None) -> Iterator[str]:
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(_probe_app(), name=APP, route_prefix="/probe")
    yield f"http://127.0.0.1:{port}/probe"
    serve.delete(APP)
    serve.shutdown()


def _samples(text: str, name: str) -> list[dict[str, str]]:
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match["name"] == name:
            found.append(dict(re.findall(r'(\w+)="([^"]*)"', match["labels"])))
    return found


def test_one_scrape_of_rays_export_shows_every_replicas_metrics(probe_url: str) -> None:
    for _ in range(40):
        httpx.get(probe_url, timeout=60).raise_for_status()
    (node,) = [n for n in ray.nodes() if n["Alive"]]
    export = f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
    # Replicas report every few seconds (10 s by default): wait for both to have reported.
    deadline = time.monotonic() + 120
    replicas: set[str] = set()
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(export, timeout=30).text
        requests = _samples(text, "ray_starling_requests_total")
        replicas = {s["replica"] for s in requests if s.get("deployment") == "MetricsProbe"}
        if len(replicas) == 2:
            break
        time.sleep(2)
    assert len(replicas) == 2, [line for line in text.splitlines() if "starling" in line][:5]
    requests = [
        s for s in _samples(text, "ray_starling_requests_total") if s.get("application") == APP
    ]
    assert {(s["endpoint"], s["status"]) for s in requests} == {("recommend", "200")}
    stages = _samples(text, "ray_starling_stage_seconds_count")
    assert {s["stage"] for s in stages if s.get("deployment") == "MetricsProbe"} == {"rank"}
    variants = _samples(text, "ray_starling_variant_requests_total")
    assert {(s["experiment"], s["variant"]) for s in variants} >= {("ranker", "mlp")}
    # Serve's own per-replica series, which the Grafana dashboard reads too.
    for name in SERVE_SERIES:
        found = [s for s in _samples(text, name) if s.get("deployment") == "MetricsProbe"]
        assert {s["replica"] for s in found} == replicas, name
