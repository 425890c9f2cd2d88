"""Settings of ranking: training (RankSettings) and serving (RankServingSettings).

Kept apart from core/settings.py, which imports and re-exports them, to keep files short.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RankLoss = Literal["bce", "bce_logq"]


class RankSettings(BaseModel):
    """Ranking model training."""

    model: str = "mlp"
    model_weight: float = Field(
        0.005,
        ge=0,
        description="serving orders candidates with a recall affinity by affinity + this x the "
        "ranker's log-odds; chosen on ml-latest-small's per-user validation carve",
    )
    embedding_dim: int = Field(16, ge=2)
    hidden: list[int] = Field(default_factory=lambda: [128, 64])
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(512, ge=1)
    lr: float = Field(2e-3, gt=0)
    patience: int = Field(
        2, ge=1, description="epochs without a better validation AUC before training stops"
    )
    validation_fraction: float = Field(
        0.1, gt=0, lt=1, description="last share of train time held out for early stopping"
    )
    random_split_fraction: float = Field(
        0.2, gt=0, lt=1, description="test share of SparrowRecSys's random split protocol"
    )
    loss: RankLoss = Field(
        "bce",
        description="bce: binary cross-entropy over rated rows and sampled negatives; bce_logq: "
        "the same with the sampled negatives' logits lowered by log(V q(item)) (V items in the "
        "encoder's vocabulary), so that often-drawn popular items are not over-penalised",
    )
    max_sample_rows: int = Field(
        5_000_000,
        ge=1,
        description="training and evaluation read a uniform sample of at most this many of "
        "the train samples and as many of the test samples (ml-25m's ~60M train samples do not "
        "fit 24 GiB as tensors, and one epoch over them takes ~30 min on 2 cores); an online "
        "update reads at most this many: the newest new samples and their replay",
    )
    ndcg_users: int = Field(
        500,
        ge=0,
        description="test users whose whole-catalogue ranking NDCG@10 scores (0 skips it); "
        "each costs one forward pass over every item",
    )


class RankServingSettings(BaseModel):
    """How Rank replicas batch concurrent requests and how many multiplexed models they keep."""

    max_batch_size: int = Field(
        16, ge=1, description="requests scored together, grouped by model, in one batch"
    )
    batch_wait_ms: float = Field(
        2.0, ge=0, description="how long the first request of a batch waits for company"
    )
    max_models_per_replica: int = Field(
        4, ge=1, description="multiplexed rank models a replica keeps loaded (LRU)"
    )
