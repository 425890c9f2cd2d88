import math

import numpy as np
import pytest

from rank_service.training.metrics import accuracy, evaluate, log_loss, pr_auc, roc_auc, roc_curve


def test_roc_auc_of_perfect_reversed_and_hand_counted_orders() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    # Pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) lose, (0.8 vs both) win -> 3/4.
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_roc_auc_counts_ties_as_half() -> None:
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    # pos 0.5 vs negs (0.5 tie = 1/2, 0.2 win = 1); pos 0.9 wins both -> (1.5 + 2) / 4.
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.5, 0.2, 0.5, 0.9])) == pytest.approx(3.5 / 4)


def test_pr_auc_by_hand_and_with_ties() -> None:
    y = np.array([1, 0, 1, 0])
    # Order 0.9(+) 0.8(-) 0.7(+) 0.1(-): precision 1 at recall 1/2, 2/3 at recall 1.
    assert pr_auc(y, np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # All tied: one threshold, precision 1/2 for the whole recall.
    assert pr_auc(y, np.full(4, 0.3)) == pytest.approx(0.5)
    # Tied pair at the top must not depend on which one sorts first.
    assert pr_auc(np.array([1, 0, 1]), np.array([0.9, 0.9, 0.1])) == pytest.approx(
        pr_auc(np.array([0, 1, 1]), np.array([0.9, 0.9, 0.1]))
    )


def test_log_loss_and_accuracy_by_hand() -> None:
    y = np.array([1, 0])
    p = np.array([0.8, 0.4])
    assert log_loss(y, p) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert accuracy(y, p) == 1.0
    assert accuracy(y, np.array([0.3, 0.6])) == 0.0
    assert math.isfinite(log_loss(y, np.array([0.0, 1.0])))


def test_evaluate_skips_auc_when_one_class_only() -> None:
    result = evaluate(np.array([1, 1]), np.array([0.7, 0.2]))
    assert set(result) == {"log_loss", "accuracy"}
    with pytest.raises(ValueError, match="both"):
        roc_auc(np.array([1, 1]), np.array([0.7, 0.2]))


def test_roc_curve_by_hand_and_its_area_matches_roc_auc() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    fpr, tpr = roc_curve(y, s)
    # Thresholds 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-).
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, s))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.uniform(size=200), 1)
    fpr, tpr = roc_curve(y, s)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, s))
