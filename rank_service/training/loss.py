"""The training loss over rated rows and sampled negatives, and the training-only batch inputs.

Samples may carry sampled negatives: rows with `negative` true, label 0, for an item the user
never rated, drawn with probability q(item) by a popularity sampler (`sample_logq` = log q).
Both columns are training-only: the model never reads them, so serving, which scores
candidates without them, sees the same inputs as training.

Losses, summed over a batch of B rows with logits s, labels y in {0, 1}, n = 1 on sampled
negatives and 0 on rated rows:

- "bce": sum_i BCE(s_i, y_i), rated rows and sampled negatives alike.
- "bce_logq": sum_i BCE(s_i - n_i * log(V * q_i), y_i), V the number of items the encoder
  knows. A popularity sampler draws a popular item far more often than a uniform one would
  (V q > 1), so plain BCE pushes popular items down once per draw; lowering their logit by
  log(V q) before the loss cancels that excess, and raises the logit of items drawn less often
  than uniformly. Relative to a uniform sampler (q = 1/V) the correction is zero, which keeps
  the logits on the scale rated rows train them to. Rated rows are never corrected: they are
  not drawn by the sampler.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from core.rank_settings import RankLoss
from rank_service.encoding import LABEL, FeatureEncoder

NEGATIVE = "negative"
LOGQ = "sample_logq"
# Batch entries that are targets or loss weights, never model inputs.
TRAINING_ONLY = (LABEL, NEGATIVE, LOGQ)

Batch = dict[str, Tensor]


def training_batch(encoder: FeatureEncoder, table: pa.Table) -> Batch:
    """`encoder.encode(table)` plus, when the table has them, `negative` and `sample_logq` as
    float32 (B,) tensors."""
    out = encoder.encode(table)
    present = set(table.column_names)
    if NEGATIVE in present:
        flags = table.column(NEGATIVE).to_numpy(zero_copy_only=False)
        out[NEGATIVE] = torch.from_numpy(flags.astype(np.float32))
    if LOGQ in present:
        logq = table.column(LOGQ).cast(pa.float32()).fill_null(0.0).to_numpy()
        out[LOGQ] = torch.from_numpy(np.array(logq, dtype=np.float32))
    return out


def split_batch(batch: Batch) -> tuple[Batch, Batch]:
    """(model inputs, training-only entries) of one batch."""
    inputs = {k: v for k, v in batch.items() if k not in TRAINING_ONLY}
    extra = {k: v for k, v in batch.items() if k in TRAINING_ONLY}
    return inputs, extra


class LossSpec(BaseModel):
    """Which loss, and log V for the log-q correction; JSON so Ray Train workers can read it."""

    model_config = ConfigDict(frozen=True)

    kind: RankLoss = "bce"
    log_items: float = 0.0

    @classmethod
    def for_encoder(cls, kind: RankLoss, encoder: FeatureEncoder) -> LossSpec:
        """The spec of `kind` with V = the items in the encoder's vocabulary (index 0 is none)."""
        return cls(kind=kind, log_items=math.log(max(encoder.vocab_sizes()["item"] - 1, 1)))

    def __call__(self, logits: Tensor, extra: Batch) -> Tensor:
        """Summed loss over logits (B,) with `extra` holding `label` (B,) and, when the rows
        have them, `negative` (B,) and `sample_logq` (B,)."""
        if self.kind == "bce_logq" and NEGATIVE in extra and LOGQ in extra:
            logits = logits - extra[NEGATIVE] * (extra[LOGQ] + self.log_items)
        return F.binary_cross_entropy_with_logits(logits, extra[LABEL], reduction="sum")
