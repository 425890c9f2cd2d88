"""What each Ray Train worker runs: skip-gram epochs over its shard of (center, context) pairs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ray.train
import ray.train.torch
import torch
from torch import distributed as dist

from recall_service.models.skipgram import SkipGram

CHECKPOINT_FILE = "model.pt"


def train_loop(config: dict[str, Any]) -> None:
    """Train `config["model"]` and report the mean loss of every epoch.

    Keys: model, num_items, dim, negatives, epochs, batch_size, lr, seed, negative_table
    (a numpy array of item indices). Rank 0 attaches a checkpoint holding the state dict.
    """
    context = ray.train.get_context()
    rank = context.get_world_rank()
    torch.manual_seed(config["seed"])
    model = SkipGram(config["num_items"], config["dim"])
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    device = ray.train.torch.get_device()
    table = torch.as_tensor(config["negative_table"], dtype=torch.long, device=device)
    # Workers draw different negatives; the shared seed above keeps their initial weights equal.
    generator = torch.Generator(device=device)
    generator.manual_seed(config["seed"] * 1000 + rank)
    shard = ray.train.get_dataset_shard("train")

    for epoch in range(config["epochs"]):
        totals = torch.zeros(2, dtype=torch.float64, device=device)
        for batch in shard.iter_torch_batches(
            batch_size=config["batch_size"], dtypes=torch.long, device=device
        ):
            center, positive = batch["center"], batch["context"]
            draws = torch.randint(
                len(table),
                (len(center), config["negatives"]),
                generator=generator,
                device=device,
            )
            loss = model(center, positive, table[draws])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            totals[0] += loss.detach() * len(center)
            totals[1] += len(center)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)
        metrics = {"epoch": epoch + 1, "loss": float(totals[0] / totals[1].clamp(min=1))}
        report(metrics, model if rank == 0 else None)


def report(metrics: dict[str, float], model: torch.nn.Module | None) -> None:
    """Report from every worker (a barrier); only rank 0 passes its weights along."""
    if model is None:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        unwrapped = model.module if hasattr(model, "module") else model
        torch.save(unwrapped.state_dict(), Path(folder) / CHECKPOINT_FILE)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
