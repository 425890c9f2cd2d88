"""The files of a registered ranking version: model.pt, encoder.json and config.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModel, RankModelConfig, build_model

MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class RankArtifacts:
    """A ranking model ready for inference (eval mode, on CPU) with its encoder."""

    config: RankModelConfig
    encoder: FeatureEncoder
    model: RankModel


def save_artifacts(
    folder: Path,
    config: RankModelConfig,
    encoder: FeatureEncoder,
    state_dict: dict[str, torch.Tensor],
) -> None:
    """Write the three files of a version into `folder`."""
    torch.save(state_dict, folder / MODEL_FILE)
    encoder.save(folder)
    config.save(folder)


def load_artifacts(folder: Path) -> RankArtifacts:
    """Rebuild the module named in config.json and load its weights."""
    config = RankModelConfig.load(folder)
    encoder = FeatureEncoder.load(folder)
    model = build_model(config)
    state = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return RankArtifacts(config=config, encoder=encoder, model=model)
