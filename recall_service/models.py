"""The embedding models that recall can train, by name."""

from __future__ import annotations

from torch import nn

from recall_service.item2vec import SkipGram

MODELS: dict[str, type[nn.Module]] = {"item2vec": SkipGram}
