"""What each Ray Train worker runs for the two-tower: in-batch softmax epochs over its shard."""

from __future__ import annotations

from typing import Any

import ray.train
import ray.train.torch
import torch
from torch import distributed as dist

from recall_service.models.two_tower import TwoTower
from recall_service.models.two_tower_encoder import TwoTowerEncoder
from recall_service.training.skipgram_loop import report

# Rows a worker shuffles among, so that each epoch sees other batches (other negatives).
_SHUFFLE_BATCHES = 8


def two_tower_loop(config: dict[str, Any]) -> None:
    """Train and report the mean loss of every epoch; rank 0 attaches a checkpoint.

    Keys: model (TwoTower keyword arguments), encoder (TwoTowerEncoder JSON), epochs,
    batch_size, lr, seed.
    """
    rank = ray.train.get_context().get_world_rank()
    torch.manual_seed(config["seed"])
    encoder = TwoTowerEncoder.model_validate_json(config["encoder"])
    model = ray.train.torch.prepare_model(TwoTower(**config["model"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    device = ray.train.torch.get_device()
    shard = ray.train.get_dataset_shard("train")
    batch_size = config["batch_size"]

    for epoch in range(config["epochs"]):
        totals = torch.zeros(2, dtype=torch.float64, device=device)
        for rows in shard.iter_batches(
            batch_size=batch_size,
            batch_format="pyarrow",
            local_shuffle_buffer_size=batch_size * _SHUFFLE_BATCHES,
            local_shuffle_seed=config["seed"] * 1000 + epoch * 10 + rank,
        ):
            # A batch of one row has no negative to learn from.
            if rows.num_rows < 2:
                continue
            batch = {
                name: torch.as_tensor(values, device=device)
                for name, values in encoder.training_batch(rows).items()
            }
            loss = model(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            totals[0] += loss.detach() * rows.num_rows
            totals[1] += rows.num_rows
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)
        metrics = {"epoch": epoch + 1, "loss": float(totals[0] / totals[1].clamp(min=1))}
        report(metrics, model if rank == 0 else None)
