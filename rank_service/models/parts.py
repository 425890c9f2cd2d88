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
    Tables start N(0, 1) (torch's default) or N(0, init_std) when given.
    """

    def __init__(
        self,
        vocab_sizes: dict[str, int],
        dim: int,
        schema: FeatureSchema = RANK_FEATURES,
        init_std: float | None = None,
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
        if init_std is not None:
            # Products of unit-variance vectors (an FM's pairwise dots) would start as huge
            # logits; a small start keeps the first steps in the sigmoid's useful range.
            for table in self.tables.values():
                nn.init.normal_(table.weight, std=init_std)
                with torch.no_grad():
                    table.weight[0].zero_()

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


class FirstOrder(nn.Module):
    """A linear score over one-hot ids and numerics: (B,) logits of a logistic regression.

    Each categorical feature gets its own table of scalar weights (embeddings of dim 1), not one
    shared per vocabulary, so that an item's weight as the candidate is independent of its weight
    as a recent item; list features average their non-padding weights.
    """

    def __init__(self, vocab_sizes: dict[str, int], schema: FeatureSchema = RANK_FEATURES) -> None:
        super().__init__()
        self.schema = schema
        self.weights = nn.ModuleDict(
            {
                f.name: nn.Embedding(vocab_sizes[f.vocab], 1, padding_idx=0)
                for f in schema.categorical
            }
        )
        for table in self.weights.values():
            nn.init.zeros_(table.weight)
        self.numeric = nn.Linear(len(schema.numeric), 1)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        total = self.numeric(batch[NUMERIC]).squeeze(-1)
        for feature in self.schema.categorical:
            ids = batch[feature.name]
            weights = self.weights[feature.name](ids).squeeze(-1)
            if ids.dim() == 2:
                mask = (ids != 0).to(weights.dtype)
                weights = (weights * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            total = total + weights
        return total


class HashedCross(nn.Module):
    """Scalar weights of (candidate, list element) pairs, hashed into `buckets`, summed.

    ids (B,) and lists (B, L) -> (B,). Padding slots (0) and unknown candidates add nothing.
    """

    # A large odd multiplier spreads the pairs over the buckets whatever their count.
    _MULTIPLIER = 1_000_003

    def __init__(self, buckets: int) -> None:
        super().__init__()
        self.buckets = buckets
        self.weights = nn.Embedding(buckets, 1)
        nn.init.zeros_(self.weights.weight)

    def forward(self, ids: Tensor, lists: Tensor) -> Tensor:
        keys = (ids.unsqueeze(1) * self._MULTIPLIER + lists) % self.buckets
        mask = ((lists != 0) & (ids != 0).unsqueeze(1)).to(self.weights.weight.dtype)
        return (self.weights(keys).squeeze(-1) * mask).sum(1)


class FactorizationMachine(nn.Module):
    """Second-order FM term over field vectors: (B, F, D) -> (B,), the sum of pairwise dots."""

    def forward(self, fields: Tensor) -> Tensor:
        square_of_sum = fields.sum(1).pow(2)
        sum_of_squares = fields.pow(2).sum(1)
        return 0.5 * (square_of_sum - sum_of_squares).sum(1)


class TargetAttention(nn.Module):
    """DIN's activation unit: pools a history by each element's relevance to the candidate.

    query (B, D), keys (B, L, D), mask (B, L) -> (B, D). Weights come from an MLP over
    [key, query, key - query, key * query] and are not softmax-normalised (as in DIN), so the
    pooled vector keeps how strongly the history matches; padding slots get weight 0.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.score = MLPTower(4 * dim, [hidden])

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        expanded = query.unsqueeze(1).expand_as(keys)
        pairs = torch.cat([keys, expanded, keys - expanded, keys * expanded], dim=-1)
        weights = self.score(pairs).squeeze(-1) * mask.to(keys.dtype)
        return (weights.unsqueeze(-1) * keys).sum(1)
