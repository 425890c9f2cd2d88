"""A registered two-tower's user tower, loaded by a serving replica to embed users online."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import torch

from core.online_store import UserProfile
from recall_service.models.two_tower import TwoTower
from recall_service.models.two_tower_encoder import ENCODER_FILE, TwoTowerEncoder, profile_table
from recall_service.models.two_tower_params import MODEL_FILE, MODEL_PARAMS_FILE, TowerParams


class UserTowerVectors:
    """A user's vector computed at request time from their current online profile."""

    def __init__(self, model: TwoTower, encoder: TwoTowerEncoder) -> None:
        self.model = model.eval()
        self.encoder = encoder

    @classmethod
    def load(cls, folder: Path) -> UserTowerVectors:
        """From a two_tower version folder of the registry."""
        params = TowerParams.model_validate_json((folder / MODEL_PARAMS_FILE).read_text())
        model = TwoTower(**params.model_dump())
        model.load_state_dict(
            torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
        )
        encoder = TwoTowerEncoder.model_validate_json((folder / ENCODER_FILE).read_text())
        return cls(model, encoder)  # type: ignore[arg-type]

    def vector(self, profile: UserProfile | None, history: Sequence[int] = ()) -> np.ndarray | None:
        """The user tower's unit vector (D,); None without a profile or any recent item the
        tower knows, where the route leaves the user to the other routes."""
        if profile is None:
            return None
        features = self.encoder.users(profile_table(profile))
        if not features["recent"].any():
            return None
        with torch.no_grad():
            batch = {name: torch.as_tensor(values) for name, values in features.items()}
            return self.model.users(batch)[0].numpy()

    def affinity(
        self, query: np.ndarray, history: Sequence[int], items: Sequence[int]
    ) -> list[float | None] | None:
        return None

    def collaborative(
        self, history: Sequence[int], k: int, exclude: Collection[int]
    ) -> list[tuple[int, float]]:
        return []
