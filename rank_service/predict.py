"""Batched inference: sample rows in, click probabilities out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import RankModel


def predict(
    model: RankModel, encoder: FeatureEncoder, rows: pa.Table, batch_size: int = 8192
) -> np.ndarray:
    """Probabilities float32 (B,) for the rows, one forward pass per `batch_size` rows."""
    model.eval()
    device = next(model.parameters()).device
    out = np.empty(rows.num_rows, dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, rows.num_rows, batch_size):
            batch = encoder.encode(rows.slice(start, batch_size))
            batch.pop(LABEL, None)
            logits = model({k: v.to(device) for k, v in batch.items()})
            out[start : start + batch_size] = torch.sigmoid(logits).float().cpu().numpy()
    return out
