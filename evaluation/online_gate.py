"""The online update's gate: a candidate serves only if, on the newest held-out window that
neither it nor the serving model trained on, it is not worse than the serving model.

For a ranker, not worse means both of:
- ROC AUC at most `auc_tolerance` below the serving model's;
- calibration (mean predicted probability / observed positive rate, 1 = calibrated) at most
  `calibration_tolerance` further from 1 than the serving model's, so a candidate within
  ±tolerance of 1 always passes it, and one that is off no more than an off serving model does.
The window's rows are all its samples, sampled negatives included: the rows the ranker trains
and early-stops on.

For a recall model (the item bag), not worse means Recall@50 at most `recall_tolerance` below
the serving model's (`evaluation.online_recall_gate`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from core.decisions import WindowMetrics
from core.feature_schema import RANK_FEATURES
from core.online_settings import OnlineSettings
from rank_service.artifacts import RankArtifacts
from rank_service.predict import predict
from rank_service.training.metrics import log_loss, roc_auc


class Verdict(BaseModel):
    """The gate's answer and its reasons, one line each."""

    accepted: bool
    reasons: list[str]


def window_metrics(labels: np.ndarray, probs: np.ndarray) -> WindowMetrics:
    """ROC AUC (None with one class), calibration and log loss of probabilities (B,) against
    0/1 labels (B,). Calibration is infinite when no row is positive."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    try:
        auc: float | None = roc_auc(y, p)
    except ValueError:
        auc = None
    positive_rate = float(y.mean())
    calibration = float(p.mean()) / positive_rate if positive_rate > 0 else float("inf")
    return WindowMetrics(
        roc_auc=auc, calibration=calibration, log_loss=log_loss(y, p), rows=int(y.size)
    )


def score_window(artifacts: RankArtifacts, window: pa.Table) -> WindowMetrics:
    """`window_metrics` of one model's predictions on the window's sample rows."""
    labels = window.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False)
    offset = artifacts.config.logit_offset
    return window_metrics(
        labels, predict(artifacts.model, artifacts.encoder, window, logit_offset=offset)
    )


def judge(candidate: WindowMetrics, serving: WindowMetrics, online: OnlineSettings) -> Verdict:
    """Accept the candidate when its AUC and calibration are not worse than the serving
    model's beyond the tolerances of `online`."""
    if candidate.roc_auc is None or serving.roc_auc is None:
        return Verdict(accepted=False, reasons=["the window holds one class: no AUC to compare"])
    if candidate.calibration is None or serving.calibration is None:
        return Verdict(accepted=False, reasons=["no calibration to compare: not a ranker's"])
    if not np.isfinite([candidate.roc_auc, candidate.calibration, candidate.log_loss]).all():
        return Verdict(accepted=False, reasons=["the candidate's predictions are not finite"])
    if serving.log_loss is None or not np.isfinite(serving.log_loss):
        return Verdict(accepted=True, reasons=["the serving model's predictions are not finite"])
    reasons = []
    auc_drop = serving.roc_auc - candidate.roc_auc
    auc_ok = auc_drop <= online.auc_tolerance
    reasons.append(
        f"ROC AUC {candidate.roc_auc:.4f} vs serving {serving.roc_auc:.4f}: "
        f"{'within' if auc_ok else 'beyond'} the tolerance {online.auc_tolerance:g} "
        f"({-auc_drop:+.4f})"
    )
    error, serving_error = abs(candidate.calibration - 1.0), abs(serving.calibration - 1.0)
    calibration_ok = error <= serving_error + online.calibration_tolerance
    reasons.append(
        f"calibration {candidate.calibration:.3f} vs serving {serving.calibration:.3f}: "
        f"{'within' if calibration_ok else 'beyond'} the tolerance "
        f"{online.calibration_tolerance:g} (distance from 1 {error - serving_error:+.3f})"
    )
    return Verdict(accepted=auc_ok and calibration_ok, reasons=reasons)
