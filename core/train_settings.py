"""How Ray Train runs a job: workers, their CPUs and placement, GPU, seed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TrainSettings(BaseModel):
    """How Ray Train runs a job (shared by recall and rank training)."""

    workers: int = Field(1, ge=1, description="Ray Train workers")
    cpus_per_worker: float = Field(
        0.5, gt=0, description="CPUs per worker; below 1 so Ray Data can still read on 2 cores"
    )
    use_gpu: bool = Field(False, description="train on GPU workers when a GPU exists")
    placement: Literal["PACK", "SPREAD"] = Field(
        "PACK",
        description="PACK: workers on as few nodes as fit them; SPREAD: one node each where "
        "possible (each gets a node's memory and cores, at the cost of gradients crossing nodes)",
    )
    seed: int = 42
