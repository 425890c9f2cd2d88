"""What each Ray Train worker runs for the item bag: epochs over its shard of users, each
batch's users predicting held-out items of their history from the rest, against in-batch and
popularity-sampled negatives."""

from __future__ import annotations

from typing import Any

import numpy as np
import ray.train
import ray.train.torch
import torch
from torch import distributed as dist

from recall_service.models.item_bag import ItemBag
from recall_service.training.item_bag_data import BagHistories, CandidateSampler, leave_out
from recall_service.training.skipgram_loop import report


class BagStep:
    """One optimiser step on a batch of users; the Ray loop and bench/recall_models.py share
    it, so that what the bench measures is what training runs."""

    def __init__(
        self,
        model: torch.nn.Module,
        histories: BagHistories,
        sampler: CandidateSampler,
        lr: float,
        target_fraction: float,
        positive_targets: bool,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model
        self.histories = histories
        self.sampler = sampler
        self.target_fraction = target_fraction
        self.positive_targets = positive_targets
        self.device = device
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __call__(self, users: np.ndarray) -> tuple[torch.Tensor, int]:
        """Train on user rows `users` (B,); returns the mean loss and the number of pairs."""
        bags, pair_users, targets = leave_out(
            self.histories, users, self.target_fraction, self.positive_targets, self.rng
        )
        if len(targets) == 0:
            return torch.zeros((), device=self.device), 0
        history = torch.as_tensor(bags, device=self.device)
        target = torch.as_tensor(targets, device=self.device)
        candidates, candidate_logq, target_logq = self.sampler.candidates(target, self.generator)
        loss = self.model(
            history,
            torch.as_tensor(pair_users, device=self.device),
            target,
            candidates,
            target_logq,
            candidate_logq,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), len(targets)


def item_bag_loop(config: dict[str, Any]) -> None:
    """Train and report the mean loss of every epoch; rank 0 attaches a checkpoint.

    Keys: num_items, dim, temperature, histories (BagHistories), counts (V,) target
    frequencies, pairs (expected targets a batch), sampled, power, target_fraction,
    positive_targets, epochs, max_steps, batch_size (users a batch), lr, seed, and optionally
    initial_state (a state dict to start from instead of random weights). Training ends
    after `epochs` or `max_steps` optimiser steps, whichever comes first; every worker takes
    the same number of steps per epoch, so all stop at the same one.
    """
    rank = ray.train.get_context().get_world_rank()
    # Equal seeds on every worker keep their initial weights equal; draws differ by rank.
    torch.manual_seed(config["seed"])
    device = ray.train.torch.get_device()
    model = ItemBag(config["num_items"], config["dim"], config["temperature"])
    if config.get("initial_state") is not None:
        model.load_state_dict(config["initial_state"])
    model = ray.train.torch.prepare_model(model)
    sampler = CandidateSampler(
        config["counts"], config["pairs"], config["sampled"], config["power"], str(device)
    )
    step = BagStep(
        model,
        config["histories"],
        sampler,
        config["lr"],
        config["target_fraction"],
        config["positive_targets"],
        config["seed"] * 1000 + rank,
        device,
    )
    shard = ray.train.get_dataset_shard("train")
    steps = 0
    for epoch in range(config["epochs"]):
        if steps >= config["max_steps"]:
            break
        totals = torch.zeros(2, dtype=torch.float64, device=device)
        for batch in shard.iter_batches(
            batch_size=config["batch_size"],
            batch_format="numpy",
            local_shuffle_buffer_size=config["batch_size"] * 8,
            local_shuffle_seed=config["seed"] * 1000 + epoch * 10 + rank,
        ):
            if steps >= config["max_steps"]:
                break
            loss, pairs = step(batch["user"])
            steps += 1
            totals[0] += loss * pairs
            totals[1] += pairs
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)
        metrics = {"epoch": epoch + 1, "loss": float(totals[0] / totals[1].clamp(min=1))}
        report(metrics, model if rank == 0 else None)
