"""How every Ray Train job spreads over the cluster: one ScalingConfig from the one TrainSettings,
for recall and rank training and their online fine-tunes alike."""

from __future__ import annotations

import logging

import ray
from ray.train import ScalingConfig

from core.settings import Settings

logger = logging.getLogger(__name__)


def scaling_config(settings: Settings, job: str) -> ScalingConfig:
    """`train.workers` workers of `train.cpus_per_worker` CPUs each, placed as
    `train.placement` says, on GPUs when asked for and the cluster has one."""
    return ScalingConfig(
        num_workers=settings.train.workers,
        use_gpu=use_gpu(settings, job),
        resources_per_worker={"CPU": settings.train.cpus_per_worker},
        placement_strategy=settings.train.placement,
    )


def use_gpu(settings: Settings, job: str) -> bool:
    """GPU workers when asked for and the Ray cluster has a GPU: only the cluster's resources
    count, since the driver (a KubeRay head, a laptop) may well have no GPU of its own."""
    if not settings.train.use_gpu:
        return False
    if ray.cluster_resources().get("GPU", 0) >= 1:
        return True
    logger.warning("train.use_gpu is set but the Ray cluster has no GPU: training %s on CPU", job)
    return False
