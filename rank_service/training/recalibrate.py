"""Recalibrating a fine-tuned ranker: one intercept on its logits, fitted so that its mean
probability on the newest rows it trained on equals their positive rate.

A fine-tune on a few thousand recent samples moves the model's probabilities with the mix of
those samples (in one measured round, from 0.92 to 1.23 times the positive rate of the window
after them), and the online gate refuses a candidate whose calibration drifts that far. An
intercept keeps the candidate's order of candidates, and so its AUC, as trained.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.feature_schema import RANK_FEATURES
from rank_service.artifacts import RankArtifacts
from rank_service.predict import log_odds, predict

# Bisection on [-BOUND, BOUND]: an intercept beyond it means the model or the rows are broken.
BOUND = 20.0
STEPS = 60


def intercept(logits: np.ndarray, labels: np.ndarray) -> float:
    """The b for which mean(sigmoid(logits + b)) equals the positive rate of 0/1 `labels`,
    for logits (B,) and labels (B,); 0 when there are no rows or one class only (no finite b)."""
    if len(labels) == 0:
        return 0.0
    rate = float(np.mean(labels))
    if rate <= 0.0 or rate >= 1.0:
        return 0.0
    z = np.asarray(logits, dtype=np.float64)
    low, high = -BOUND, BOUND
    for _ in range(STEPS):
        middle = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(z + middle)))) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def recalibrated(artifacts: RankArtifacts, rows: pa.Table) -> RankArtifacts:
    """`artifacts` with the intercept (RankModelConfig.logit_offset) fitted on `rows`, sample
    rows with labels; the weights are shared, not copied."""
    logits = log_odds(predict(artifacts.model, artifacts.encoder, rows))
    labels = rows.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False)
    offset = intercept(logits, labels)
    config = artifacts.config.model_copy(update={"logit_offset": offset})
    return RankArtifacts(config=config, encoder=artifacts.encoder, model=artifacts.model)
