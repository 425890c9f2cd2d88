"""`starling learn` on a small home: fine-tunes the serving ranker with Ray Train on the samples
it never saw (new users and items among them), judges it, records the decision and serves it
only when the gate accepts; `models list` shows the decision and a rollback undoes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import cluster.online.rank_learn
from cluster.cli.main import main
from cluster.control.model_decisions import serving_ref
from cluster.control.serve_config import DEFAULT_CONFIG
from core.decisions import list_decisions
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings
from rank_service.artifacts import RankArtifacts, load_artifacts
from rank_service.training.fine_tune import fine_tune
from rank_service.training.report import TRAINED_UNTIL
from rank_service.training.train import TrainRun
from tests.support.online_home import ALL_ITEMS, ALL_USERS, online_home

pytestmark = pytest.mark.integration


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    # Promotions rewrite the serve config: a copy takes them, never the packaged file.
    monkeypatch.setenv("STARLING_SERVE_CONFIG", str(copy))
    online_home(tmp_path)
    return tmp_path


def test_learn_publishes_a_grown_candidate_and_records_the_gate_decision(
    ray_local, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["learn", "--home", str(home), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning rank mlp v1 on" in out
    registry = Registry(StarlingPaths(home).registry)
    v1, v2 = (ModelRef(kind="rank", name="mlp", version=v) for v in ("v1", "v2"))
    candidate = registry.manifest(v2)
    assert candidate.params["fine_tuned_from"] == "mlp/v1"
    assert candidate.params[TRAINED_UNTIL] > registry.manifest(v1).params[TRAINED_UNTIL]
    assert {"window_roc_auc", "window_calibration", "train_seconds"} <= candidate.metrics.keys()
    # New users and items got rows of their own.
    sizes = load_artifacts(registry.path(v2)).config.vocab_sizes
    assert (sizes["item"], sizes["user"]) == (ALL_ITEMS + 1, ALL_USERS + 1)

    [decision] = list_decisions(registry.root, "rank")
    assert decision.candidate == v2 and decision.serving == v1
    assert decision.action in {"promoted", "refused"}
    assert decision.candidate_metrics is not None and decision.serving_metrics is not None
    assert decision.window["rows"] == decision.candidate_metrics.rows >= 100
    settings = Settings(home=home)
    assert serving_ref(settings, "rank") == (v2 if decision.action == "promoted" else v1)

    assert main(["models", "list", "--home", str(home)]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if " v2 " in line and "window_roc_auc" in line)
    assert f"[{decision.action}]" in row
    assert f"rank mlp v2 {decision.action} (serving mlp v1): ROC AUC" in listing
    if decision.action == "promoted":
        assert main(["models", "rollback", "rank", "--home", str(home)]) == 0
        assert serving_ref(settings, "rank") == v1
        assert [d.action for d in list_decisions(registry.root, "rank")][-1] == "rolled_back"
    capsys.readouterr()
    # v1 serves and was judged on the newest samples: the same run again would change nothing.
    assert main(["learn", "--home", str(home)]) == 1
    assert "no samples newer than the window rank mlp v1" in capsys.readouterr().err
    assert registry.versions("rank", "mlp") == ["v1", "v2"]


def test_a_broken_candidate_is_registered_refused_and_never_served(
    ray_local, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fine_tune(*args: object, **kwargs: object) -> tuple[RankArtifacts, TrainRun]:
        """The real fine-tuning, then every weight zeroed: a candidate that learnt nothing."""
        artifacts, run = fine_tune(*args, **kwargs)  # type: ignore[arg-type]
        with torch.no_grad():
            for parameter in artifacts.model.parameters():
                parameter.zero_()
        return artifacts, run

    monkeypatch.setattr(cluster.online.rank_learn, "fine_tune", broken_fine_tune)
    assert main(["learn", "--home", str(home), "--epochs", "1"]) == 0
    assert "rank mlp v2 refused (serving mlp v1): ROC AUC 0.5000" in capsys.readouterr().out
    registry = Registry(StarlingPaths(home).registry)
    [decision] = list_decisions(registry.root, "rank")
    assert decision.action == "refused" and "beyond the tolerance" in decision.reasons[0]
    v1 = ModelRef(kind="rank", name="mlp", version="v1")
    assert serving_ref(Settings(home=home), "rank") == v1 and registry.serving("rank") == v1
    assert registry.versions("rank", "mlp") == ["v1", "v2"]


def test_too_small_a_window_is_a_clear_error_and_publishes_nothing(
    ray_local, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STARLING_ONLINE__MIN_WINDOW_ROWS", "5000")
    assert main(["learn", "--home", str(home)]) == 1
    assert "min_window_rows=5000" in capsys.readouterr().err
    registry = Registry(StarlingPaths(home).registry)
    assert registry.versions("rank", "mlp") == ["v1"]
    assert list_decisions(registry.root, "rank") == []
