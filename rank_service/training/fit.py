"""Training steps shared by the Ray Train loop and the in-process fit, with early stopping.

`fit_local` trains a model in this process on pre-encoded tensors (the offline comparison and
the random-split protocol use it); `train_loop` runs the same epoch and validation steps on Ray
Train workers.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor, nn

from core.settings import RankSettings
from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import RankModel, RankModelConfig, build_model
from rank_service.training.loss import Batch, LossSpec, split_batch, training_batch
from rank_service.training.metrics import log_loss, roc_auc

logger = logging.getLogger(__name__)

# Rows scored at a time on the validation set: no gradients, so far more than a training batch.
SCORE_BATCH = 8192


def train_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    device: str,
    loss_fn: LossSpec | None = None,
) -> tuple[float, int]:
    """One pass of Adam steps on the mean of `loss_fn` (plain BCE when None) over rated rows and
    sampled negatives alike; returns (summed loss, rows) for reporting."""
    model.train()
    loss_fn = loss_fn or LossSpec()
    loss_sum, rows = 0.0, 0
    for batch in batches:
        inputs, extra = split_batch({k: v.to(device) for k, v in batch.items()})
        labels = extra[LABEL]
        loss = loss_fn(model(inputs), extra)
        optimizer.zero_grad()
        (loss / labels.numel()).backward()
        optimizer.step()
        loss_sum += float(loss.detach())
        rows += labels.numel()
    return loss_sum, rows


def score_batches(
    model: nn.Module, batches: Iterable[Batch], device: str
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) over all batches, in order, without gradients."""
    model.eval()
    labels, probs = [], []
    with torch.inference_mode():
        for batch in batches:
            inputs, extra = split_batch({k: v.to(device) for k, v in batch.items()})
            labels.append(extra[LABEL].cpu().numpy())
            probs.append(torch.sigmoid(model(inputs)).float().cpu().numpy())
    return np.concatenate(labels), np.concatenate(probs)


def validation_score(labels: np.ndarray, probs: np.ndarray) -> float:
    """ROC AUC, what early stopping maximises; minus log loss when only one class occurs.

    Sampled negatives are label 0 like rated negatives, so over rows that include them this is
    the AUC of positives against everything else: rated negatives and sampled ones together.
    """
    try:
        return roc_auc(labels, probs)
    except ValueError:
        return -log_loss(labels, probs)


@dataclass
class EarlyStopping:
    """Remembers the best validation score and says when `patience` epochs brought nothing."""

    patience: int
    best: float = -math.inf
    best_epoch: int = 0

    def update(self, epoch: int, score: float) -> bool:
        """Record epoch `epoch`'s score; True when it is a new best."""
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        return epoch - self.best_epoch >= self.patience


@dataclass
class FitResult:
    """A model loaded with its best-validation weights, and how training went."""

    model: RankModel
    best_epoch: int
    epochs_run: int
    val_roc_auc: float
    seconds: float
    losses: list[float] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)


def slices(data: Batch, order: Tensor, batch_size: int) -> Iterable[Batch]:
    """Batches of `batch_size` rows of `data`, taken in `order`."""
    for index in order.split(batch_size):
        yield {k: v[index] for k, v in data.items()}


def fit_local(
    config: RankModelConfig,
    encoder: FeatureEncoder,
    train: pa.Table,
    validation: pa.Table,
    rank: RankSettings,
    seed: int,
    device: str = "cpu",
) -> FitResult:
    """Train `config` in this process for up to `rank.epochs`, keeping the best validation AUC.

    Sampled negatives among the rows (see `rank_service.training.loss`) join the loss `rank.loss`
    and the validation AUC.

    The rows are encoded once and shuffled every epoch with a generator seeded by `seed`, so the
    same inputs give the same model.
    """
    started = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(config).to(device)
    data = training_batch(encoder, train)
    held = training_batch(encoder, validation)
    loss_fn = LossSpec.for_encoder(rank.loss, encoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=rank.lr)
    generator = torch.Generator().manual_seed(seed)
    stopper = EarlyStopping(rank.patience)
    best_state = copy.deepcopy(model.state_dict())
    losses: list[float] = []
    scores: list[float] = []
    epoch = 0
    for epoch in range(1, rank.epochs + 1):
        order = torch.randperm(train.num_rows, generator=generator)
        loss_sum, rows = train_epoch(
            model, slices(data, order, rank.batch_size), optimizer, device, loss_fn
        )
        losses.append(loss_sum / max(rows, 1))
        everything = torch.arange(validation.num_rows)
        labels, probs = score_batches(model, slices(held, everything, SCORE_BATCH), device)
        score = validation_score(labels, probs)
        scores.append(score)
        logger.info(
            "%s epoch %d: loss %.4f, validation AUC %.4f", config.name, epoch, losses[-1], score
        )
        if stopper.update(epoch, score):
            best_state = copy.deepcopy(model.state_dict())
        if stopper.should_stop(epoch):
            break
    model.load_state_dict(best_state)
    return FitResult(
        model=model,
        best_epoch=stopper.best_epoch,
        epochs_run=epoch,
        val_roc_auc=stopper.best,
        seconds=time.perf_counter() - started,
        losses=losses,
        val_scores=scores,
    )
