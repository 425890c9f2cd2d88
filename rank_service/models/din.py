"""Deep Interest Network: the candidate attends over the user's recent items."""

from __future__ import annotations

import torch
from torch import Tensor

from rank_service.models.config import RankModelConfig
from rank_service.models.parts import FeatureEmbedding, MLPTower, RankModel, TargetAttention

HISTORY = "user_recent_items"
CANDIDATE = "item_id"


class DeepInterestNetwork(RankModel):
    """features (B, F * D + N) and interest (B, D) -> tower -> logits (B,).

    interest: the recent items' embeddings (B, L, D) pooled by their attention weights against
    the candidate's embedding (B, D), so each candidate sees the part of the history that
    resembles it rather than one mean over it.
    """

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__(config)
        self.features = FeatureEmbedding(config.vocab_sizes, config.embedding_dim)
        self.attention = TargetAttention(config.embedding_dim, config.attention_hidden)
        self.tower = MLPTower(self.features.out_dim + config.embedding_dim, config.hidden)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch[HISTORY]
        interest = self.attention(
            self.features.lookup(CANDIDATE, batch[CANDIDATE]),
            self.features.lookup(HISTORY, history),
            history != 0,
        )
        return self.tower(torch.cat([self.features(batch), interest], dim=1)).squeeze(-1)
