"""Named parts that ranking models are assembled from, and their common base class.

Shapes: B = batch, L = list length of a feature, D = embedding dim, F = categorical features,
N = numeric features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.feature_schema import RANK_FEATURES, FeatureSchema
from rank_service.encoding import NUMERIC
from rank_service.models.config import RankModelConfig


class RankModel(nn.Module):
    """A ranking model: built from a RankModelConfig, maps an encoded batch to logits.

    `forward(batch)` takes the tensors of `FeatureEncoder.encode` and returns logits (B,).
    """

    def __init__(self, config: RankModelConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError


class FeatureEmbedding(nn.Module):
    """Embeds every categorical feature of the schema and passes the numerics through.

    One table per vocabulary (item, user, genre), shared by the features that index it, so that
    an item looks the same as a candidate and inside a user's recent items. Row 0 (unknown or
    padding) stays a zero vector, and list features average over their non-padding slots only.
    """

    def __init__(
        self, vocab_sizes: dict[str, int], dim: int, schema: FeatureSchema = RANK_FEATURES
    ) -> None:
        super().__init__()
        self.schema = schema
        self.dim = dim
        vocabs = sorted({f.vocab for f in schema.categorical})
        missing = [v for v in vocabs if v not in vocab_sizes]
        if missing:
            raise ValueError(f"no vocabulary size for {missing}")
        self.tables = nn.ModuleDict(
            {v: nn.Embedding(vocab_sizes[v], dim, padding_idx=0) for v in vocabs}
        )

    @property
    def num_fields(self) -> int:
        """F: how many categorical features there are."""
        return len(self.schema.categorical)

    @property
    def num_numeric(self) -> int:
        """N: how many numeric features there are."""
        return len(self.schema.numeric)

    @property
    def out_dim(self) -> int:
        """Width of `forward`'s output: F * D + N."""
        return self.num_fields * self.dim + self.num_numeric

    def lookup(self, name: str, ids: Tensor) -> Tensor:
        """Unpooled embeddings of one feature: ids (B,) -> (B, D); ids (B, L) -> (B, L, D)."""
        vocab = next(f.vocab for f in self.schema.categorical if f.name == name)
        return self.tables[vocab](ids)

    def fields(self, batch: dict[str, Tensor]) -> Tensor:
        """One vector per categorical feature, lists mean-pooled: (B, F, D)."""
        pooled = []
        for feature in self.schema.categorical:
            ids = batch[feature.name]
            vectors = self.lookup(feature.name, ids)
            if ids.dim() == 2:
                mask = (ids != 0).unsqueeze(-1).to(vectors.dtype)
                vectors = (vectors * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            pooled.append(vectors)
        return torch.stack(pooled, dim=1)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Flattened field vectors followed by the standardised numerics: (B, F * D + N)."""
        fields = self.fields(batch)
        return torch.cat([fields.flatten(1), batch[NUMERIC]], dim=1)


class MLPTower(nn.Module):
    """Fully connected ReLU layers: (B, in_dim) -> (B, out_dim)."""

    def __init__(self, in_dim: int, hidden: list[int], out_dim: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
