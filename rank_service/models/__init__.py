"""Ranking models by name: one explicit registry, one file per model."""

from __future__ import annotations

from rank_service.models.config import RankModelConfig
from rank_service.models.deepfm import DeepFM
from rank_service.models.din import DeepInterestNetwork
from rank_service.models.logistic_regression import LogisticRegression
from rank_service.models.mlp import EmbeddingMLP
from rank_service.models.neural_cf import NeuralCF
from rank_service.models.parts import RankModel
from rank_service.models.wide_deep import WideDeep

BASELINE = "logistic_regression"

MODELS: dict[str, type[RankModel]] = {
    "mlp": EmbeddingMLP,
    "wide_deep": WideDeep,
    "neural_cf": NeuralCF,
    "deepfm": DeepFM,
    "din": DeepInterestNetwork,
    BASELINE: LogisticRegression,
}


def build_model(config: RankModelConfig) -> RankModel:
    """A freshly initialised module of the model `config.name`."""
    if config.name not in MODELS:
        raise ValueError(f"unknown rank model {config.name!r}; known: {sorted(MODELS)}")
    return MODELS[config.name](config)


__all__ = ["BASELINE", "MODELS", "RankModel", "RankModelConfig", "build_model"]
