"""Binary classification metrics in numpy (labels 0/1, scores = predicted probabilities)."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

# Keeps log(0) out of the log loss; float32 probabilities saturate at about this distance.
_EPS = 1e-7


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    return y, s


def _both_classes(y: np.ndarray) -> tuple[int, int]:
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both positive and negative labels")
    return positives, negatives


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; a tie between a positive and a negative counts one half."""
    y, s = _check(labels, scores)
    positives, negatives = _both_classes(y)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Tied scores share the average of the 1-based ranks they occupy (Mann-Whitney U).
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = average_rank[inverse][y == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: precision at each distinct threshold weighted by the recall it adds.

    Tied scores form one threshold, so their order does not change the result.
    """
    y, s = _check(labels, scores)
    positives, _ = _both_classes(y)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    true_pos = np.cumsum(y)[last_of_tie]
    precision = true_pos / (last_of_tie + 1)
    recall_gain = np.diff(np.r_[0.0, true_pos]) / positives
    return float((recall_gain * precision).sum())


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) from (0, 0) to (1, 1), one point per threshold.

    Tied scores form one threshold, so the curve goes diagonally through them.
    """
    y, s = _check(labels, scores)
    positives, negatives = _both_classes(y)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    true_pos = np.cumsum(y)[last_of_tie]
    false_pos = last_of_tie + 1 - true_pos
    return np.r_[0.0, false_pos / negatives], np.r_[0.0, true_pos / positives]


def log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]."""
    y, p = _check(labels, probs)
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def accuracy(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Share of rows whose prediction (prob >= threshold) equals the label."""
    y, p = _check(labels, probs)
    return float(np.mean((p >= threshold) == (y == 1)))


def evaluate(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """All four metrics; the AUCs are left out (with a warning) when only one class occurs."""
    result = {"log_loss": log_loss(labels, probs), "accuracy": accuracy(labels, probs)}
    try:
        result["roc_auc"] = roc_auc(labels, probs)
        result["pr_auc"] = pr_auc(labels, probs)
    except ValueError as error:
        logger.warning("AUC metrics skipped: %s", error)
    return result
