"""Wide&Deep: a linear wide part that memorises crosses, plus the Embedding MLP that generalises."""

from __future__ import annotations

from torch import Tensor

from rank_service.models.config import RankModelConfig
from rank_service.models.parts import FeatureEmbedding, FirstOrder, HashedCross, MLPTower, RankModel


class WideDeep(RankModel):
    """logit (B,) = wide + deep.

    wide: first-order weights of every feature (B,) plus hashed crosses of the candidate
    `item_id` (B,) with each of the user's `user_recent_items` (B, L) -> (B,), as SparrowRecSys
    crosses movieId with the user's rated movies.
    deep: features (B, F * D + N) -> tower -> (B,).
    """

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__(config)
        self.linear = FirstOrder(config.vocab_sizes)
        self.cross = HashedCross(config.cross_buckets)
        self.features = FeatureEmbedding(config.vocab_sizes, config.embedding_dim)
        self.tower = MLPTower(self.features.out_dim, config.hidden)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        wide = self.linear(batch) + self.cross(batch["item_id"], batch["user_recent_items"])
        return wide + self.tower(self.features(batch)).squeeze(-1)
