"""The ops page's decision routes: the recorded decisions, newest first, and a rollback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.app import ops_routes
from cluster.app.api_keys import ApiKeys
from cluster.app.live_stats import LiveStats
from cluster.app.metrics import GatewayMetrics
from cluster.app.replica import current_gateway
from cluster.control.model_decisions import carry_out
from core.decisions import Decision
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings

ADMIN = {"Authorization": "Bearer a-key"}


@dataclass
class FakeGateway:
    """What the ops routes read of a Gateway replica."""

    settings: Settings
    live: LiveStats = field(default_factory=LiveStats)
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys(write=[], admin=[SecretStr("a-key")]))
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    lander: object = None
    catalog: object = None
    online_catalog: object = None
    store: object = None


def _ref(version: str) -> ModelRef:
    return ModelRef(kind="rank", name="mlp", version=version)


def _client(tmp_path: Path) -> tuple[TestClient, Settings]:
    registry = Registry(StarlingPaths(tmp_path).registry)
    for _ in range(3):
        registry.publish(
            "rank",
            "mlp",
            write=lambda f: (f / "m").write_bytes(b"x"),
            metrics={},
            data_snapshot="s",
        )
    registry.promote(_ref("v1"))
    settings = Settings(home=tmp_path)
    app = FastAPI()
    app.include_router(ops_routes.router)
    app.dependency_overrides[current_gateway] = lambda: FakeGateway(settings)
    return TestClient(app), settings


def test_decisions_newest_first_and_a_rollback_from_the_page(tmp_path: Path) -> None:
    client, settings = _client(tmp_path)
    assert client.get("/admin/models/decisions").status_code == 401
    assert client.get("/admin/models/decisions", headers=ADMIN).json() == []
    refused = client.post("/admin/models/rollback", json={"kind": "rank"}, headers=ADMIN)
    assert refused.status_code == 409 and "nothing to roll back" in refused.json()["detail"]

    carry_out(
        settings, Decision(kind="rank", action="refused", candidate=_ref("v2"), serving=_ref("v1"))
    )
    carry_out(
        settings, Decision(kind="rank", action="promoted", candidate=_ref("v3"), serving=_ref("v1"))
    )
    found = client.get("/admin/models/decisions?kind=rank&limit=5", headers=ADMIN).json()
    assert [(d["action"], d["candidate"]["version"]) for d in found] == [
        ("promoted", "v3"),
        ("refused", "v2"),
    ]
    back = client.post("/admin/models/rollback", json={"kind": "rank"}, headers=ADMIN)
    assert back.status_code == 200
    assert (back.json()["action"], back.json()["candidate"]["version"]) == ("rolled_back", "v1")
    assert Registry(StarlingPaths(tmp_path).registry).serving("rank") == _ref("v1")
    assert len(client.get("/admin/models/decisions", headers=ADMIN).json()) == 3
