"""The per-worker loop that Ray Train runs: read a shard, encode, step, report a checkpoint."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from torch import nn

from rank_service.artifacts import MODEL_FILE
from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import RankModelConfig, build_model

logger = logging.getLogger(__name__)


def loop_config(
    encoder: FeatureEncoder,
    model: RankModelConfig,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> dict[str, Any]:
    """The `train_loop_config` that `train_loop` expects; plain JSON so any worker can read it."""
    return {
        "encoder": encoder.to_json(),
        "model": model.model_dump(),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
    }


def _global_sum(values: list[float]) -> list[float]:
    """Sums over all workers, so that every worker reports the whole epoch's loss and rows."""
    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.is_available() and dist.is_initialized():
        # gloo reduces CPU tensors, nccl only CUDA ones.
        if dist.get_backend() == "nccl":
            tensor = tensor.to(ray.train.torch.get_device())
        dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def train_loop(config: dict[str, Any]) -> None:
    """Train `config["model"]` on this worker's shard of the "train" dataset."""
    torch.manual_seed(config["seed"])
    encoder = FeatureEncoder.from_json(config["encoder"])
    model = ray.train.torch.prepare_model(
        build_model(RankModelConfig.model_validate(config["model"]))
    )
    device = ray.train.torch.get_device()
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    shard = ray.train.get_dataset_shard("train")
    rank = ray.train.get_context().get_world_rank()

    for epoch in range(config["epochs"]):
        model.train()
        started = time.perf_counter()
        loss_sum, rows = 0.0, 0
        # Arrow batches: Ray Data blocks are Arrow already, and the encoder works on Arrow, so
        # pandas would cost two conversions (about 3x the encoding time on MovieLens samples).
        for table in shard.iter_batches(batch_size=config["batch_size"], batch_format="pyarrow"):
            batch = {k: v.to(device) for k, v in encoder.encode(table).items()}
            labels = batch.pop(LABEL)
            loss = loss_fn(model(batch), labels)
            optimizer.zero_grad()
            (loss / labels.numel()).backward()
            optimizer.step()
            loss_sum += float(loss.detach())
            rows += labels.numel()
        seconds = time.perf_counter() - started
        loss_sum, rows_all = _global_sum([loss_sum, float(rows)])
        metrics = {
            "epoch": epoch + 1,
            "loss": loss_sum / max(rows_all, 1.0),
            "rows": int(rows_all),
            "seconds": seconds,
            "samples_per_s": rows_all / max(seconds, 1e-9),
        }
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if rank == 0:
                logger.info("rank epoch %(epoch)d: loss %(loss).4f, %(rows)d rows", metrics)
                ddp = isinstance(model, nn.parallel.DistributedDataParallel)
                net = model.module if ddp else model
                torch.save(net.state_dict(), Path(tmp) / MODEL_FILE)
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)
