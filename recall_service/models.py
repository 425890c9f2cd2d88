"""The embedding models that recall can train, by name."""

from __future__ import annotations

from torch import nn

from recall_service.item2vec import SkipGram
from recall_service.two_tower import TwoTower

# DeepWalk is skip-gram too: only its training pairs (from random walks) differ.
MODELS: dict[str, type[nn.Module]] = {
    "item2vec": SkipGram,
    "deepwalk": SkipGram,
    "two_tower": TwoTower,
}
