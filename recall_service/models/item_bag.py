"""Item bag: a user is the mean input embedding of their history's items, scored against every
item's output embedding."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ItemBag(nn.Module):
    """Input embeddings `inputs` E (V + 1, D; row V is the padding of short histories) and output
    embeddings `outputs` F (V, D). V = items in the vocabulary, D = dim, B = batch, L = history
    length, C = candidate items of a batch.

    Users and items are compared by cosine / `temperature`: the published item vectors are the
    unit rows of F and serving searches them by inner product with the unit user vector.
    """

    def __init__(self, num_items: int, dim: int, temperature: float) -> None:
        super().__init__()
        self.num_items = num_items
        self.temperature = temperature
        self.inputs = nn.Embedding(num_items + 1, dim, padding_idx=num_items)
        self.outputs = nn.Embedding(num_items, dim)
        nn.init.normal_(self.inputs.weight, std=0.1)
        nn.init.normal_(self.outputs.weight, std=0.1)
        with torch.no_grad():
            self.inputs.weight[num_items].zero_()

    def users(self, history: torch.Tensor) -> torch.Tensor:
        """Unit user vectors (B, D) of `history` (B, L) item rows, padded with V. An empty
        history gives the zero vector, which scores every item alike."""
        mask = (history != self.num_items).unsqueeze(-1)  # (B, L, 1)
        total = (self.inputs(history) * mask).sum(1)  # (B, D)
        return F.normalize(total / mask.sum(1).clamp(min=1), dim=-1)

    def items(self, rows: torch.Tensor) -> torch.Tensor:
        """Unit output vectors (..., D) of item `rows` (...)."""
        return F.normalize(self.outputs(rows), dim=-1)

    def forward(
        self,
        history: torch.Tensor,
        pair_users: torch.Tensor,
        targets: torch.Tensor,
        candidates: torch.Tensor,
        target_logq: torch.Tensor,
        candidate_logq: torch.Tensor,
    ) -> torch.Tensor:
        """Mean sampled-softmax loss of every (user, target) pair against shared candidates.

        history: (B, L) input items (the user's targets left out); pair_users: (P,) rows of
        history; targets: (P,) item rows; candidates: (C,) negative item rows shared by the
        batch (the batch's targets, sampled items, or all items); target_logq, candidate_logq:
        (P,), (C,) log of how often each is expected among a batch's candidates, subtracted
        from its logit (log-q correction) so that items drawn often are not pushed down for
        being drawn often. A candidate equal to a pair's own target is masked out of its
        negatives. Returns a scalar.
        """
        # Scaling the (P, D) and (C, D) factors rather than the (P, C) logits: on CPU the
        # elementwise passes over the logits cost more than the product itself.
        users = self.users(history)[pair_users] / self.temperature  # (P, D)
        positive = (users * self.items(targets)).sum(-1) - target_logq  # (P,)
        negative = users @ self.items(candidates).T - candidate_logq  # (P, C)
        negative = negative.masked_fill(targets[:, None] == candidates[None, :], float("-inf"))
        total = torch.logaddexp(positive, torch.logsumexp(negative, dim=1))  # (P,)
        return (total - positive).mean()

    def item_vectors(self) -> torch.Tensor:
        """The published item vectors: unit rows of F, (V, D)."""
        return F.normalize(self.outputs.weight.detach(), dim=-1)

    def input_vectors(self) -> torch.Tensor:
        """The input embeddings E that user vectors are made of, padding row dropped: (V, D)."""
        return self.inputs.weight.detach()[: self.num_items]
