"""The Grafana dashboard shipped in k8s/ reads only metrics Starling exports through Ray."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cluster.app.metrics import exported_series

DASHBOARD = Path(__file__).resolve().parents[4] / "k8s" / "grafana-starling.json"
# Ray names every metric it exports ray_*; PromQL functions and label names never start so.
_NAME = re.compile(r"\bray_[a-z_]+\b")
WANTED_PANELS = {
    "Request rate",
    "/recommend latency p50 / p99",
    "Stage latency p50 / p99",
    "Degraded answers",
    "Events recorded and landed",
}


def _panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def test_every_panel_reads_metrics_starling_exports() -> None:
    exported = exported_series()
    for panel in _panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(_NAME.findall(target["expr"]))
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], names - exported)


def test_the_dashboard_has_the_panels_an_operator_looks_for() -> None:
    titles = {panel["title"] for panel in _panels()}
    assert titles >= WANTED_PANELS
    ids = [panel["id"] for panel in _panels()]
    assert len(ids) == len(set(ids))
