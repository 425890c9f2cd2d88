"""Item2vec: skip-gram with negative sampling over users' positive item sequences."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SkipGram(nn.Module):
    """Two embedding tables: `center` (the item vectors kept after training) and `context`.

    V = number of items in the vocabulary, D = embedding dim.
    """

    def __init__(self, num_items: int, dim: int) -> None:
        super().__init__()
        self.center = nn.Embedding(num_items, dim)
        self.context = nn.Embedding(num_items, dim)
        # word2vec's initialisation: small random centers, zero contexts, so that no pair starts
        # out looking similar.
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.context.weight)

    def forward(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative-sampling loss of a batch.

        center: (B,) item indices; context: (B,) items seen near them; negatives: (B, N) items
        drawn from the noise distribution. Returns a scalar.
        """
        u = self.center(center)  # (B, D)
        positive = (u * self.context(context)).sum(-1)  # (B,)
        negative = torch.bmm(self.context(negatives), u.unsqueeze(-1)).squeeze(-1)  # (B, N)
        loss = F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)
        return -loss.mean()

    def item_vectors(self) -> torch.Tensor:
        """The learnt item vectors, (V, D)."""
        return self.center.weight.detach()
