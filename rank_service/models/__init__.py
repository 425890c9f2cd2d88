"""Ranking models by name: one explicit registry, one file per model."""

from __future__ import annotations

from rank_service.models.config import RankModelConfig
from rank_service.models.mlp import EmbeddingMLP
from rank_service.models.parts import RankModel

MODELS: dict[str, type[RankModel]] = {"mlp": EmbeddingMLP}


def build_model(config: RankModelConfig) -> RankModel:
    """A freshly initialised module of the model `config.name`."""
    if config.name not in MODELS:
        raise ValueError(f"unknown rank model {config.name!r}; known: {sorted(MODELS)}")
    return MODELS[config.name](config)


__all__ = ["MODELS", "RankModel", "RankModelConfig", "build_model"]
