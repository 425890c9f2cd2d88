"""Embedding MLP (SparrowRecSys): all feature embeddings and numerics, concatenated, into an MLP."""

from __future__ import annotations

from torch import Tensor

from rank_service.models.config import RankModelConfig
from rank_service.models.parts import FeatureEmbedding, MLPTower, RankModel


class EmbeddingMLP(RankModel):
    """features: (B, F * D + N) -> tower -> logits (B,)."""

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__(config)
        self.features = FeatureEmbedding(config.vocab_sizes, config.embedding_dim)
        self.tower = MLPTower(self.features.out_dim, config.hidden)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.tower(self.features(batch)).squeeze(-1)
