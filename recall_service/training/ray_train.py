"""What every recall model's TorchTrainer shares: workers, GPU choice, run folder, checkpoint."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import ray
import torch
from ray.train import CheckpointConfig, Result, RunConfig, ScalingConfig

from core.paths import StarlingPaths
from core.settings import Settings
from core.train_progress import report_callbacks
from recall_service.training.skipgram_loop import CHECKPOINT_FILE

logger = logging.getLogger(__name__)


def scaling_config(settings: Settings, model: str) -> ScalingConfig:
    """`settings.train.workers` workers, on GPUs when asked for and available."""
    return ScalingConfig(
        num_workers=settings.train.workers,
        use_gpu=_use_gpu(settings, model),
        resources_per_worker={"CPU": settings.train.cpus_per_worker},
    )


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


def _use_gpu(settings: Settings, model: str) -> bool:
    """GPU workers when asked for and the cluster has a GPU (the driver itself may lack one)."""
    if not settings.train.use_gpu:
        return False
    # Only the cluster's resources count: the driver's own CUDA says nothing about the workers.
    if ray.cluster_resources().get("GPU", 0) >= 1:
        return True
    logger.warning("a GPU was asked for but none exists: training %s on CPU", model)
    return False
