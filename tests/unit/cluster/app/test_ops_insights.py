"""The ops page's insight routes on a plain FastAPI app over a real home: the pipeline's plots,
the model versions with the gate's verdicts, the A/B report, the recent traffic and Ray's
dashboard link (none without Ray)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.app import ops_insights, ops_routes
from cluster.app.api_keys import ApiKeys
from cluster.app.live_stats import LiveStats
from cluster.app.metrics import GatewayMetrics
from cluster.app.ops_insights import RANK_CURVES_FILE, STATS_PLOTS
from cluster.app.replica import current_gateway
from core.decisions import Decision, record_decision
from core.events import LoggedEvent, impressions
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings
from evaluation.abtest import read_feedback
from evaluation.rank.compare import ROC_FILE
from ingest.stream.consumer import events_frame
from rank_service.training.report import CURVES_FILE

ADMIN = {"Authorization": "Bearer a-key"}
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


@dataclass
class FakeGateway:
    settings: Settings
    live: LiveStats = field(default_factory=LiveStats)
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys(write=[], admin=[SecretStr("a-key")]))
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)


def _client(home: Path) -> tuple[TestClient, FakeGateway]:
    gateway = FakeGateway(Settings(home=home))
    app = FastAPI()
    app.include_router(ops_routes.router)
    app.dependency_overrides[current_gateway] = lambda: gateway
    return TestClient(app), gateway


def _ref(version: str) -> ModelRef:
    return ModelRef(kind="rank", name="mlp", version=version)


def _publish(home: Path, versions: int) -> Registry:
    registry = Registry(StarlingPaths(home).registry)
    for n in range(versions):
        registry.publish(
            "rank",
            "mlp",
            write=lambda f: (f / CURVES_FILE).write_bytes(PNG),
            metrics={"roc_auc": 0.7 + n / 100},
            data_snapshot="s",
        )
    return registry


def test_the_page_lists_and_serves_the_plots_the_pipeline_drew(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    assert client.get("/admin/plots").status_code == 401
    assert client.get("/admin/plots", headers=ADMIN).json() == []

    stats = StarlingPaths(tmp_path).stats
    stats.mkdir(parents=True)
    (stats / "daily_activity.png").write_bytes(PNG)
    (stats / ROC_FILE).write_bytes(PNG)
    _publish(tmp_path, 1)

    names = [p["name"] for p in client.get("/admin/plots", headers=ADMIN).json()]
    assert names == ["daily_activity", "rank_roc", "rank_curves"]
    answer = client.get("/admin/plots/rank_curves", headers=ADMIN)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == PNG
    assert client.get("/admin/plots/long_tail", headers=ADMIN).status_code == 404
    assert client.get("/admin/plots/..%2Fregistry", headers=ADMIN).status_code == 404


def test_the_plot_names_are_the_ones_the_writers_use() -> None:
    assert STATS_PLOTS["rank_roc"][1] == ROC_FILE
    assert RANK_CURVES_FILE == CURVES_FILE


def test_versions_carry_the_gates_verdict_and_which_one_serves(tmp_path: Path) -> None:
    registry = _publish(tmp_path, 3)
    registry.promote(_ref("v1"))
    root = StarlingPaths(tmp_path).registry
    reason = "window AUC 0.61 below the serving model's 0.66"
    record_decision(
        root,
        Decision(
            kind="rank",
            action="refused",
            candidate=_ref("v3"),
            serving=_ref("v1"),
            reasons=[reason],
        ),
    )
    client, _ = _client(tmp_path)

    found = client.get("/admin/models/versions?kind=rank", headers=ADMIN).json()

    assert [v["ref"]["version"] for v in found] == ["v3", "v2", "v1"]
    by_version = {v["ref"]["version"]: v for v in found}
    assert by_version["v3"]["verdict"]["action"] == "refused"
    assert by_version["v3"]["verdict"]["reasons"] == [reason]
    assert by_version["v2"]["verdict"] is None
    assert [v["serving"] for v in found] == [False, False, True]
    assert by_version["v2"]["metrics"]["roc_auc"] == 0.71


def test_the_ab_report_has_each_variants_rates_with_intervals(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    assert client.get("/admin/abtest", headers=ADMIN).json()["variants"] == []

    start = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[LoggedEvent] = []
    for user in range(40):
        variant = "control" if user % 2 == 0 else "diverse"
        events += impressions(f"r{user}", user, [user * 10, user * 10 + 1], {"div": variant}, start)
        if variant == "diverse":
            events.append(
                LoggedEvent(
                    event_id=f"c{user}",
                    user_id=user,
                    item_id=user * 10,
                    event_type="click",
                    value=1.0,
                    ts=start + timedelta(minutes=5),
                    source="api",
                )
            )
    lake = StarlingPaths(tmp_path).events
    lake.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(events_frame(events)), lake / "part-0.parquet")

    report = client.get("/admin/abtest?window_hours=1", headers=ADMIN).json()

    assert report["window_hours"] == 1
    ctr = {v["variant"]: v["ctr"] for v in report["variants"]}
    assert ctr["control"]["rate"] == 0 and ctr["diverse"]["rate"] == 0.5
    assert ctr["diverse"]["low"] < 0.5 < ctr["diverse"]["high"]
    assert client.get("/admin/abtest?window_hours=0", headers=ADMIN).status_code == 422


def test_the_ab_report_reads_the_lake_again_only_once_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[object] = []

    def counted(lake: object) -> object:
        reads.append(lake)
        return read_feedback(lake)

    monkeypatch.setattr(ops_insights, "read_feedback", counted)
    client, _ = _client(tmp_path)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    lake = StarlingPaths(tmp_path).events
    lake.mkdir(parents=True)
    first = events_frame(impressions("r1", 1, [10], {"div": "control"}, start))
    pq.write_table(pa.Table.from_pandas(first), lake / "part-0.parquet")
    for _ in range(3):
        assert client.get("/admin/abtest", headers=ADMIN).status_code == 200
    assert len(reads) == 1

    more = events_frame(impressions("r2", 2, [20], {"div": "control"}, start))
    pq.write_table(pa.Table.from_pandas(more), lake / "part-1.parquet")
    report = client.get("/admin/abtest", headers=ADMIN).json()
    assert len(reads) == 2
    assert report["variants"][0]["impressions"] == 2


def test_recent_traffic_and_no_dashboard_without_ray(tmp_path: Path) -> None:
    client, gateway = _client(tmp_path)
    gateway.metrics.recommended([], [], items=5, seconds=0.04, variants={})
    gateway.metrics.recommended([], [], items=5, seconds=0.06, variants={})

    points = client.get("/admin/traffic", headers=ADMIN).json()
    assert len(points) == 120
    assert sum(p["requests"] for p in points) == 2
    busiest = max(points, key=lambda p: p["requests"])
    assert 40 <= busiest["p50_ms"] <= 60
    assert client.get("/admin/ray-dashboard", headers=ADMIN).json() == {"url": None}


def test_the_page_and_its_scripts_are_served_and_nothing_else_beside_them(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    page = client.get("/ops").text
    for script in ("ops.js", "insights.js"):
        assert f'src="/ops/{script}"' in page
        answer = client.get(f"/ops/{script}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/javascript")
        assert "fetch(" in answer.text
    assert client.get("/ops/ops.html").status_code == 404
    assert client.get("/ops/..%2Fops_routes.py").status_code == 404
