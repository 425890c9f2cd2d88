"""NeuralCF (NeuMF): generalised matrix factorisation beside an MLP, joined by one linear layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rank_service.models.config import RankModelConfig
from rank_service.models.parts import FeatureEmbedding, MLPTower, RankModel


class NeuralCF(RankModel):
    """logit (B,) = linear([gmf (B, D), mlp (B, H)]), H = the last hidden width.

    gmf: user (B, D) * item (B, D) from their own tables, as NeuMF keeps the GMF and MLP
    embeddings apart. mlp: every feature (B, F * D + N) through the hidden layers, so the
    collaborative signal is backed by the SparrowRecSys feature set.
    """

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__(config)
        dim = config.embedding_dim
        self.gmf_user = nn.Embedding(config.vocab_sizes["user"], dim, padding_idx=0)
        self.gmf_item = nn.Embedding(config.vocab_sizes["item"], dim, padding_idx=0)
        self.features = FeatureEmbedding(config.vocab_sizes, dim)
        *inner, last = config.hidden or [dim]
        self.mlp = nn.Sequential(MLPTower(self.features.out_dim, inner, last), nn.ReLU())
        self.predict = nn.Linear(dim + last, 1)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        gmf = self.gmf_user(batch["user_id"]) * self.gmf_item(batch["item_id"])
        mlp = self.mlp(self.features(batch))
        return self.predict(torch.cat([gmf, mlp], dim=1)).squeeze(-1)
