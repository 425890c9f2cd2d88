"""The record of every serving decision of the online update: a candidate promoted or refused
(with why and the metrics both models had on the held-out window), and rollbacks.

Records live under `registry/decisions/<kind>/`, one JSON file each, written atomically and never
changed; their names start with the UTC time, so listing them in name order is in time order.
They sit beside the model kinds, not inside `registry/<kind>/`, whose folders are model names.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.filesystem import StoragePath
from core.registry import ModelKind, ModelRef
from core.storage import write_json_atomic

DECISIONS = "decisions"
Action = Literal["promoted", "refused", "rolled_back"]


class WindowMetrics(BaseModel):
    """How one model did on the held-out window: a ranker's AUC, calibration and log loss, or
    a recall model's Recall@50 (the figures of the other kind stay None)."""

    roc_auc: float | None = Field(None, description="None when the window holds one class only")
    calibration: float | None = Field(
        None, description="mean predicted probability / observed positive rate"
    )
    log_loss: float | None = None
    recall_at_50: float | None = Field(
        None, description="mean share of a window user's new positives among their top 50"
    )
    rows: int = Field(description="the window's samples (rank) or users judged (recall)")


class Decision(BaseModel):
    """What happened to a candidate (or a rollback), and why."""

    kind: ModelKind
    action: Action
    candidate: ModelRef = Field(description="the version judged, or the one rolled back to")
    serving: ModelRef | None = Field(description="what served when the decision was taken")
    reasons: list[str] = Field(default_factory=list, description="why, one line each")
    candidate_metrics: WindowMetrics | None = None
    serving_metrics: WindowMetrics | None = None
    window: dict[str, str | int] = Field(
        default_factory=dict, description="the held-out window: first and last ts, rows"
    )
    live: bool = Field(False, description="a running app swapped the new version in")
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def serves(self) -> ModelRef | None:
        """The version that serves after this decision (None: unchanged by it)."""
        return self.candidate if self.action != "refused" else None


def decisions_dir(registry_root: StoragePath, kind: ModelKind) -> StoragePath:
    return registry_root / DECISIONS / kind


def record_decision(registry_root: StoragePath, decision: Decision) -> StoragePath:
    """Write `decision` as a new file; returns its path."""
    stamp = f"{decision.created:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.json"
    path = decisions_dir(registry_root, decision.kind) / stamp
    write_json_atomic(path, decision.model_dump(mode="json"))
    return path


def list_decisions(
    registry_root: StoragePath, kind: ModelKind, limit: int | None = None
) -> list[Decision]:
    """The decisions of `kind`, oldest first; with `limit`, only the newest `limit` of them."""
    folder = decisions_dir(registry_root, kind)
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    if limit is not None:
        names = names[-limit:] if limit > 0 else []
    return [Decision.model_validate_json((folder / name).read_text()) for name in names]


def rollback_target(decisions: list[Decision], serving: ModelRef) -> ModelRef | None:
    """The version that served before `serving` was put in place by a decision, if one did."""
    for decision in reversed(decisions):
        if decision.serves() == serving:
            return decision.serving
    return None
