"""Two-tower recall: a user tower and an item tower whose cosine ranks items for a user.

B = batch, D = output dim, R = recent items, G = genres per user or item, V = items + 1,
N = genres + 1 (row 0 of both embedding tables is padding and unknown ids).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

USER_NUMERIC = 1
ITEM_NUMERIC = 2


class BagOfEmbeddings(nn.Module):
    """Mean embedding of a padded id list: (B, L) -> (B, D); id 0 is padding and counts not."""

    def __init__(self, table: nn.Embedding) -> None:
        super().__init__()
        self.table = table

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        present = (ids > 0).unsqueeze(-1).float()  # (B, L, 1)
        summed = (self.table(ids) * present).sum(1)  # (B, D)
        return summed / present.sum(1).clamp(min=1.0)


class Tower(nn.Module):
    """MLP from concatenated features to a unit vector: (B, F) -> (B, D)."""

    def __init__(self, features: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(features), dim=-1)


class UserTower(nn.Module):
    """recent (B, R), genres (B, G), numeric (B, USER_NUMERIC) -> (B, D) unit vectors."""

    def __init__(self, items: nn.Embedding, genres: nn.Embedding, hidden: int, dim: int) -> None:
        super().__init__()
        self.recent = BagOfEmbeddings(items)
        self.genres = BagOfEmbeddings(genres)
        width = items.embedding_dim + genres.embedding_dim + USER_NUMERIC
        self.tower = Tower(width, hidden, dim)

    def forward(
        self, recent: torch.Tensor, genres: torch.Tensor, numeric: torch.Tensor
    ) -> torch.Tensor:
        return self.tower(torch.cat([self.recent(recent), self.genres(genres), numeric], dim=-1))


class ItemTower(nn.Module):
    """item (B,), genres (B, G), numeric (B, ITEM_NUMERIC) -> (B, D) unit vectors."""

    def __init__(self, items: nn.Embedding, genres: nn.Embedding, hidden: int, dim: int) -> None:
        super().__init__()
        self.items = items
        self.genres = BagOfEmbeddings(genres)
        width = items.embedding_dim + genres.embedding_dim + ITEM_NUMERIC
        self.tower = Tower(width, hidden, dim)

    def forward(
        self, item: torch.Tensor, genres: torch.Tensor, numeric: torch.Tensor
    ) -> torch.Tensor:
        return self.tower(torch.cat([self.items(item), self.genres(genres), numeric], dim=-1))


def in_batch_softmax_loss(
    users: torch.Tensor,
    items: torch.Tensor,
    item_ids: torch.Tensor,
    log_q: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Softmax cross-entropy of each user (B, D) over the batch's items (B, D); user b's
    positive is item b and the other rows are its negatives.

    A popular item turns up as a negative more often than a rare one, which would push it
    down for everyone; subtracting its log sampling probability `log_q` (B,) from its logits
    corrects that (log-q correction). Another row holding user b's own item (`item_ids` (B,)
    equal) is no negative for b and is masked out. Returns a scalar.
    """
    logits = users @ items.T / temperature - log_q.unsqueeze(0)  # (B, B)
    same = item_ids.unsqueeze(0) == item_ids.unsqueeze(1)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(users), device=users.device))


class TwoTower(nn.Module):
    """The user and item towers with their shared item and genre embedding tables.

    Sharing the item table lets the user tower read recent items in the space the item tower
    places them in.
    """

    def __init__(
        self, num_items: int, num_genres: int, dim: int, hidden: int, temperature: float
    ) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(num_items, dim, padding_idx=0)
        self.genre_embedding = nn.Embedding(num_genres, dim, padding_idx=0)
        self.user_tower = UserTower(self.item_embedding, self.genre_embedding, hidden, dim)
        self.item_tower = ItemTower(self.item_embedding, self.genre_embedding, hidden, dim)
        self.temperature = temperature

    def users(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """User vectors (B, D) of a batch holding recent, user_genres and user_numeric."""
        return self.user_tower(batch["recent"], batch["user_genres"], batch["user_numeric"])

    def items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Item vectors (B, D) of a batch holding item, item_genres and item_numeric."""
        return self.item_tower(batch["item"], batch["item_genres"], batch["item_numeric"])

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean in-batch softmax loss of (user, positive item) rows; `log_q` (B,) is each
        item's log sampling probability. Returns a scalar."""
        return in_batch_softmax_loss(
            self.users(batch), self.items(batch), batch["item"], batch["log_q"], self.temperature
        )
