"""Logistic regression: the linear baseline every deep ranker has to beat on the same features."""

from __future__ import annotations

from torch import Tensor

from rank_service.models.config import RankModelConfig
from rank_service.models.parts import FirstOrder, RankModel


class LogisticRegression(RankModel):
    """One-hot ids (embeddings of dim 1) and numerics (B, N) -> one weighted sum -> logits (B,)."""

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__(config)
        self.linear = FirstOrder(config.vocab_sizes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.linear(batch)
