"""The serving decisions' record: written once each, listed in time order, and what a rollback
goes back to."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.decisions import (
    Decision,
    WindowMetrics,
    decisions_dir,
    list_decisions,
    record_decision,
    rollback_target,
)
from core.registry import ModelRef

START = datetime(2026, 12, 1, tzinfo=UTC)


def _ref(version: str) -> ModelRef:
    return ModelRef(kind="rank", name="mlp", version=version)


def _decision(action: str, candidate: str, serving: str, minutes: int) -> Decision:
    return Decision(
        kind="rank",
        action=action,  # type: ignore[arg-type]
        candidate=_ref(candidate),
        serving=_ref(serving),
        reasons=[f"{action} {candidate}"],
        candidate_metrics=WindowMetrics(roc_auc=0.7, calibration=1.02, log_loss=0.6, rows=50),
        created=START + timedelta(minutes=minutes),
    )


def test_decisions_are_kept_one_file_each_and_listed_oldest_first(tmp_path: Path) -> None:
    written = [
        _decision("refused", "v2", "v1", 5),
        _decision("promoted", "v3", "v1", 1),
        _decision("rolled_back", "v1", "v3", 9),
    ]
    for decision in written:
        record_decision(tmp_path, decision)
    found = list_decisions(tmp_path, "rank")
    assert [d.candidate.version for d in found] == ["v3", "v2", "v1"]
    assert found[0] == written[1]
    assert [d.candidate.version for d in list_decisions(tmp_path, "rank", limit=2)] == ["v2", "v1"]
    assert list_decisions(tmp_path, "recall") == []
    # Beside the model kinds' folders, whose folders are model names.
    assert len(list(decisions_dir(tmp_path, "rank").iterdir())) == 3
    assert not (tmp_path / "rank").exists()


def test_a_rollback_goes_back_to_what_served_before_the_decision_in_place() -> None:
    history = [
        _decision("promoted", "v2", "v1", 1),
        _decision("refused", "v3", "v2", 2),
        _decision("promoted", "v4", "v2", 3),
    ]
    assert rollback_target(history, _ref("v4")) == _ref("v2")
    assert rollback_target(history, _ref("v2")) == _ref("v1")
    # A refused candidate never served; a version no decision put in place has no target.
    assert rollback_target(history, _ref("v3")) is None
    assert rollback_target(history, _ref("v9")) is None
    # Rolling back a rollback undoes it.
    undone = [*history, _decision("rolled_back", "v2", "v4", 4)]
    assert rollback_target(undone, _ref("v2")) == _ref("v4")
