"""Batched inference: sample rows in, click probabilities out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import RankModel


def predict(
    model: RankModel,
    encoder: FeatureEncoder,
    rows: pa.Table,
    batch_size: int = 8192,
    logit_offset: float = 0.0,
) -> np.ndarray:
    """Probabilities float32 (B,) for the rows, one forward pass per `batch_size` rows;
    `logit_offset` is the version's (RankModelConfig.logit_offset)."""
    out = np.empty(rows.num_rows, dtype=np.float32)
    for start in range(0, rows.num_rows, batch_size):
        batch = encoder.encode(rows.slice(start, batch_size))
        batch.pop(LABEL, None)
        out[start : start + batch_size] = predict_batch(model, batch, logit_offset)
    return out


# Probabilities are clipped this far from 0 and 1 before they become log-odds.
LOG_ODDS_EPSILON = 1e-7


def log_odds(probs: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) float64 (B,) of probabilities (B,), finite at 0 and 1."""
    p = np.clip(np.asarray(probs, dtype=np.float64), LOG_ODDS_EPSILON, 1 - LOG_ODDS_EPSILON)
    return np.log(p / (1 - p))


def predict_batch(
    model: RankModel, batch: dict[str, torch.Tensor], logit_offset: float = 0.0
) -> np.ndarray:
    """Probabilities float32 (B,) for encoded inputs (see FeatureEncoder), one forward pass."""
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model({k: v.to(device) for k, v in batch.items()})
        return torch.sigmoid(logits + logit_offset).float().cpu().numpy()
