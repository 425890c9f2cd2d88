"""Train one model on a train table and score it on a held-out test table, all in process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from core.settings import RankSettings
from rank_service.artifacts import RankArtifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig
from rank_service.training.catalogue import catalogue_ndcg, ndcg_key
from rank_service.training.fit import fit_local
from rank_service.training.report import LOSS_CURVE, VALIDATION_CURVE, scored_test
from rank_service.training.splits import random_split, time_tail_split

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoldoutResult:
    """Test metrics of one model, how long it trained, its per-epoch curves, and its
    predictions on the rated test rows."""

    name: str
    metrics: dict[str, float]
    train_seconds: float
    best_epoch: int
    epochs_run: int
    val_roc_auc: float
    labels: np.ndarray
    probs: np.ndarray
    curves: dict[str, list[float]]


def model_config(name: str, rank: RankSettings, encoder: FeatureEncoder) -> RankModelConfig:
    """The module config of model `name` with the sizes of `rank` and the encoder's vocabularies."""
    return RankModelConfig(
        name=name,
        embedding_dim=rank.embedding_dim,
        hidden=rank.hidden,
        vocab_sizes=encoder.vocab_sizes(),
    )


def train_and_score(
    name: str,
    train: pa.Table,
    test: pa.Table,
    rank: RankSettings,
    seed: int,
    random_validation: bool = False,
    device: str = "cpu",
    items: pa.Table | None = None,
) -> HoldoutResult:
    """Fit the encoder on `train`, hold out a validation share for early stopping, score `test`.

    The validation share is the last `rank.validation_fraction` of train time, or a random
    share with `random_validation` (when the test split itself is random). Metrics are those of
    `scored_test`, plus NDCG@10 over the whole catalogue of `items` (item features) when given.
    """
    if random_validation:
        fit_rows, validation = random_split(train, rank.validation_fraction, seed)
    else:
        fit_rows, validation = time_tail_split(train, rank.validation_fraction)
    encoder = FeatureEncoder.fit(fit_rows)
    config = model_config(name, rank, encoder)
    fitted = fit_local(config, encoder, fit_rows, validation, rank, seed, device)
    metrics, labels, probs = scored_test(fitted.model, encoder, test)
    if items is not None:
        artifacts = RankArtifacts(config=config, encoder=encoder, model=fitted.model)
        ndcg = catalogue_ndcg(artifacts, items, train, test, rank.ndcg_users, seed=seed)
        if ndcg is not None:
            metrics[ndcg_key(10)] = ndcg
    logger.info(
        "%s: test %s after %.1f s (best epoch %d of %d)",
        name,
        metrics,
        fitted.seconds,
        fitted.best_epoch,
        fitted.epochs_run,
    )
    return HoldoutResult(
        name=name,
        metrics=metrics,
        train_seconds=fitted.seconds,
        best_epoch=fitted.best_epoch,
        epochs_run=fitted.epochs_run,
        val_roc_auc=fitted.val_roc_auc,
        labels=labels,
        probs=probs,
        curves={LOSS_CURVE: fitted.losses, VALIDATION_CURVE: fitted.val_scores},
    )


def random_split_metrics(
    name: str, samples: pa.Table, rank: RankSettings, seed: int, device: str = "cpu"
) -> dict[str, float]:
    """SparrowRecSys's protocol: all samples split at random, (1 - f, f); metrics on the f part.

    Keys carry a `random_split_` prefix so they sit beside the time-split metrics in a manifest.
    Random splits let a model see the future of the users it is tested on, so these figures are
    for comparing with published numbers, not for choosing a model to serve.
    """
    train, test = random_split(samples, rank.random_split_fraction, seed)
    result = train_and_score(name, train, test, rank, seed, random_validation=True, device=device)
    return {f"random_split_{k}": v for k, v in result.metrics.items()}


def local_device(use_gpu: bool) -> str:
    """ "cuda" when asked for and present, else "cpu"."""
    return "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
