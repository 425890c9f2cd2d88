"""Recorded serving decisions without a running app: carrying one out pins the version for the
next deploy, a rollback goes back through the same promotion, and the CLI shows them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cluster.cli.main import build_parser, main
from cluster.control.model_decisions import (
    NothingToRollBackError,
    carry_out,
    rollback,
    serving_ref,
)
from cluster.control.serve_config import DEFAULT_CONFIG
from core.decisions import Decision, WindowMetrics, list_decisions
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings


def _ref(version: str) -> ModelRef:
    return ModelRef(kind="rank", name="mlp", version=version)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A home whose registry holds mlp v1 (serving) and v2, with its own serve config."""
    registry = Registry(StarlingPaths(tmp_path).registry)
    for _ in range(2):
        registry.publish(
            "rank",
            "mlp",
            write=lambda f: (f / "model.pt").write_bytes(b"x"),
            metrics={},
            data_snapshot="s",
        )
    registry.promote(_ref("v1"))
    copy = tmp_path / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    monkeypatch.setenv("STARLING_SERVE_CONFIG", str(copy))
    return Settings(home=tmp_path, serve_config=copy)


def _promotion(settings: Settings) -> Decision:
    metrics = WindowMetrics(roc_auc=0.71, calibration=0.98, log_loss=0.6, rows=300)
    decision = Decision(
        kind="rank",
        action="promoted",
        candidate=_ref("v2"),
        serving=_ref("v1"),
        reasons=["ROC AUC 0.7100 vs serving 0.7000: within the tolerance"],
        candidate_metrics=metrics,
        serving_metrics=metrics,
    )
    return carry_out(settings, decision)


def test_a_promotion_then_its_rollback_both_swap_and_are_recorded(settings: Settings) -> None:
    assert serving_ref(settings, "rank") == _ref("v1")
    with pytest.raises(NothingToRollBackError, match="nothing to roll back to"):
        rollback(settings, "rank")
    promoted = _promotion(settings)
    assert promoted.action == "promoted" and not promoted.live
    assert serving_ref(settings, "rank") == _ref("v2")
    back = rollback(settings, "rank")
    assert (back.action, back.candidate, back.serving) == ("rolled_back", _ref("v1"), _ref("v2"))
    assert serving_ref(settings, "rank") == _ref("v1")
    assert Registry(StarlingPaths.of(settings).registry).serving("rank") == _ref("v1")
    root = StarlingPaths.of(settings).registry
    assert [d.action for d in list_decisions(root, "rank")] == ["promoted", "rolled_back"]


def test_a_refusal_is_recorded_and_changes_nothing(settings: Settings) -> None:
    refused = carry_out(
        settings,
        Decision(kind="rank", action="refused", candidate=_ref("v2"), serving=_ref("v1")),
    )
    assert refused.action == "refused"
    assert serving_ref(settings, "rank") == _ref("v1")
    assert len(list_decisions(StarlingPaths.of(settings).registry, "rank")) == 1


def test_the_cli_lists_decisions_and_rolls_back(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _promotion(settings)
    home = str(settings.home)
    assert main(["models", "list", "--home", home]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if " v2 " in line and "mlp" in line)
    assert row.startswith("*") and "[promoted]" in row
    assert "rank mlp v2 promoted (serving mlp v1): ROC AUC 0.7100" in out
    assert main(["models", "list", "--json", "--home", home]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["version"]: r["decision"] for r in rows} == {"v1": None, "v2": "promoted"}
    assert main(["models", "rollback", "rank", "--home", home]) == 0
    assert "rank mlp v1 rolled_back (serving mlp v2)" in capsys.readouterr().out
    assert serving_ref(settings, "rank") == _ref("v1")


def test_learn_takes_its_flags() -> None:
    args = build_parser().parse_args(["learn", "--epochs", "1", "--interval", "600"])
    assert (args.epochs, args.interval) == (1, 600.0)
    assert build_parser().parse_args(["models", "rollback", "rank"]).kind == "rank"
