"""What every recall model's TorchTrainer shares beside its scaling (core.train_scaling): run
folder, checkpoint."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import torch
from ray.train import CheckpointConfig, Result, RunConfig

from core.paths import StarlingPaths
from core.train_progress import report_callbacks
from recall_service.training.skipgram_loop import CHECKPOINT_FILE


def run_config(paths: StarlingPaths, model: str) -> RunConfig:
    """A fresh run folder under the home's runtime space; only the last checkpoint is kept;
    every epoch's report goes to a listening driver (core.train_progress)."""
    return RunConfig(
        storage_path=str(paths.runtime / "ray_train"),
        name=f"{model}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}",
        checkpoint_config=CheckpointConfig(num_to_keep=1),
        callbacks=report_callbacks(),
    )


def final_state(result: Result, model: str) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The state dict rank 0 checkpointed last, and the last reported metrics."""
    if result.checkpoint is None or result.metrics is None:
        raise RuntimeError(f"{model} training finished without reporting a checkpoint")
    with result.checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    return state, dict(result.metrics)
