"""The files of a registered two-tower version and the constructor arguments saved beside its
weights."""

from __future__ import annotations

from pydantic import BaseModel

MODEL_FILE = "two_tower.pt"
MODEL_PARAMS_FILE = "two_tower_params.json"


class TowerParams(BaseModel):
    """TwoTower's constructor arguments, saved next to its weights."""

    num_items: int
    num_genres: int
    dim: int
    hidden: int
    temperature: float
