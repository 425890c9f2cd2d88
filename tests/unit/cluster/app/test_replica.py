from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from ray import serve

from cluster.app import ops_routes
from cluster.app.api_keys import ApiKeys
from cluster.app.live_stats import LiveStats
from cluster.app.metrics import GatewayMetrics
from cluster.app.replica import current_gateway
from cluster.control.operations import AppStatus, DeploymentStatus
from core.settings import Settings


@dataclass
class FakeGateway:
    """Has what the ops and auth routes read of a Gateway replica, and nothing else."""

    settings: Settings
    live: LiveStats
    api_keys: ApiKeys
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    # What the monitoring and catalogue routes read, which these tests never call.
    lander: object = None
    catalog: object = None
    online_catalog: object = None
    store: object = None
    health: object = None


def _gateway() -> FakeGateway:
    live = LiveStats()
    live.record("Rank", 4.0)
    keys = ApiKeys(write=[], admin=[SecretStr("a-key")])
    return FakeGateway(Settings(), live, keys)


def _running_in(monkeypatch: pytest.MonkeyPatch, replica: object) -> None:
    context = SimpleNamespace(servable_object=replica)
    monkeypatch.setattr(serve, "get_replica_context", lambda: context)


def test_the_dependency_is_the_replica_running_the_route(monkeypatch) -> None:
    gateway = _gateway()
    _running_in(monkeypatch, gateway)
    assert asyncio.run(current_gateway()) is gateway


def test_a_replica_without_the_gateways_state_is_refused(monkeypatch) -> None:
    _running_in(monkeypatch, SimpleNamespace(settings=Settings(), live=LiveStats()))
    with pytest.raises(TypeError, match="not a Gateway replica"):
        asyncio.run(current_gateway())


def test_ops_routes_read_the_gateway_they_are_given(monkeypatch) -> None:
    rank = DeploymentStatus(
        name="Rank",
        status="HEALTHY",
        message="",
        target_replicas=1,
        running_replicas=1,
        min_replicas=None,
        max_replicas=None,
        user_config={"name": "mlp", "version": "v1"},
        replicas=[],
    )
    status = AppStatus(name="starling", status="RUNNING", message="", deployments={"Rank": rank})
    monkeypatch.setattr(ops_routes, "app_status", lambda: status)
    app = FastAPI()
    app.include_router(ops_routes.router)
    app.dependency_overrides[current_gateway] = _gateway
    client = TestClient(app)

    assert client.get("/admin/status").status_code == 401
    answer = client.get("/admin/status", headers={"Authorization": "Bearer a-key"})
    assert answer.status_code == 200
    (view,) = answer.json()["deployments"]
    assert (view["model"], view["calls"], view["p50_ms"]) == ("mlp:v1", 1, 4.0)
