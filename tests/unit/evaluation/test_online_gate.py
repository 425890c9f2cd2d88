"""The online update's gate: not worse on AUC and calibration, on real models and on figures."""

import numpy as np
import pyarrow as pa
import pytest
import torch

from core.decisions import WindowMetrics
from core.online_settings import OnlineSettings
from evaluation.online_gate import judge, score_window, window_metrics
from rank_service.artifacts import RankArtifacts
from rank_service.models import build_model
from tests.support.online_home import fitted_serving, online_samples

GATE = OnlineSettings(auc_tolerance=0.005, calibration_tolerance=0.10)


def _metrics(auc: float | None, calibration: float = 1.0) -> WindowMetrics:
    return WindowMetrics(roc_auc=auc, calibration=calibration, log_loss=0.6, rows=100)


@pytest.fixture(scope="module")
def models() -> tuple[RankArtifacts, RankArtifacts, pa.Table]:
    """(a fitted ranker, the same with its weights zeroed, the new samples to judge on)."""
    _, old, new = online_samples()
    encoder, config, state = fitted_serving(old)
    fitted = build_model(config)
    fitted.load_state_dict(state)
    broken = build_model(config)
    broken.load_state_dict({k: torch.zeros_like(v) for k, v in state.items()})
    return (
        RankArtifacts(config=config, encoder=encoder, model=fitted.eval()),
        RankArtifacts(config=config, encoder=encoder, model=broken.eval()),
        new,
    )


def test_calibration_is_mean_prediction_over_positive_rate() -> None:
    labels = np.array([1, 0, 0, 1])
    metrics = window_metrics(labels, np.array([0.9, 0.2, 0.1, 0.6]))
    assert metrics.roc_auc == 1.0
    assert metrics.calibration == pytest.approx((1.8 / 4) / 0.5)
    assert metrics.rows == 4
    assert window_metrics(np.zeros(3), np.full(3, 0.2)).roc_auc is None


def test_a_broken_candidate_is_refused_and_a_good_one_accepted(models) -> None:
    fitted, broken, window = models
    good, bad = score_window(fitted, window), score_window(broken, window)
    assert good.roc_auc is not None and good.roc_auc > 0.65
    # Zeroed weights predict 0.5 everywhere: AUC 0.5, and far from the positive rate.
    assert bad.roc_auc == pytest.approx(0.5)
    refused = judge(bad, good, GATE)
    assert not refused.accepted
    assert "beyond the tolerance 0.005" in refused.reasons[0]
    accepted = judge(good, bad, GATE)
    assert accepted.accepted, accepted.reasons
    assert judge(good, good, GATE).accepted


@pytest.mark.parametrize(
    ("candidate", "serving", "accepted"),
    [
        (_metrics(0.700), _metrics(0.704), True),  # within the AUC tolerance
        (_metrics(0.690), _metrics(0.700), False),  # 0.01 lower
        (_metrics(0.75, 1.09), _metrics(0.70, 1.0), True),  # within ±10 % of calibrated
        (_metrics(0.75, 0.85), _metrics(0.70, 1.0), False),  # 15 % under
        (_metrics(0.75, 0.55), _metrics(0.70, 0.6), True),  # off, but no further than serving
        (_metrics(0.75, 0.45), _metrics(0.70, 0.6), False),  # 0.15 further off than serving
        (_metrics(None), _metrics(0.70), False),  # one class in the window
    ],
)
def test_the_tolerances(candidate: WindowMetrics, serving: WindowMetrics, accepted: bool) -> None:
    assert judge(candidate, serving, GATE).accepted is accepted


def test_non_finite_predictions_never_pass_and_never_block() -> None:
    nan = WindowMetrics(roc_auc=0.5, calibration=float("nan"), log_loss=float("nan"), rows=9)
    assert not judge(nan, _metrics(0.7), GATE).accepted
    assert judge(_metrics(0.6), nan, GATE).accepted
