"""train_rank: fit the encoder, train with Ray Train, evaluate on the test samples, publish."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
import ray.data
import torch
from ray.data import Dataset
from ray.train import Checkpoint, CheckpointConfig, DataConfig, RunConfig
from ray.train.torch import TorchTrainer

from core.feature_schema import RANK_FEATURES
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings, Settings
from core.storage import fingerprint
from core.train_progress import report_callbacks
from core.train_scaling import scaling_config
from rank_service.artifacts import MODEL_FILE, RankArtifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.parquet import read_folder, read_sample
from rank_service.serving.scorer import ITEM_COLUMNS
from rank_service.training.catalogue import SCORING_COLUMNS, catalogue_ndcg, ndcg_key, rated
from rank_service.training.holdout import local_device, model_config, random_split_metrics
from rank_service.training.loss import LOGQ, NEGATIVE, LossSpec
from rank_service.training.report import (
    TRAINED_UNTIL,
    curves_from_history,
    publish_rank,
    scored_test,
)
from rank_service.training.splits import (
    TIME_COLUMN,
    before,
    from_cutoff,
    newest_ms,
    tail_cutoff,
)
from rank_service.training.train_loop import loop_config, train_loop

logger = logging.getLogger(__name__)


def _load_state(checkpoint: Checkpoint | None) -> dict[str, torch.Tensor]:
    if checkpoint is None:
        raise RuntimeError("Ray Train finished without a checkpoint")
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / MODEL_FILE, map_location="cpu", weights_only=True)


ROWS_PER_BLOCK = 50_000


def _dataset(table: pa.Table) -> Dataset:
    """Rows the driver already holds, as a Ray Dataset cut into blocks every worker can share.

    Reading the samples again with `read_parquet` cost ~25 s of a 50 s fit on a few thousand
    rows: every read and filter task started a Python worker that imported torch and Ray Train
    on two busy cores. From memory there are no tasks at all.
    """
    blocks = [
        table.slice(begin, ROWS_PER_BLOCK) for begin in range(0, table.num_rows, ROWS_PER_BLOCK)
    ]
    return ray.data.from_arrow(blocks or [table])


@dataclass(frozen=True)
class TrainRun:
    """What a Ray Train run left: the best epoch's weights and reported metrics."""

    state: dict[str, torch.Tensor]
    best: dict[str, Any]
    best_epoch: int
    epochs_run: int
    seconds: float
    history: list[dict[str, float]]


def train_rank(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train `settings.rank.model` on the train samples and publish it as a new rank version.

    The last `rank.validation_fraction` of train time is held out: training stops when its ROC
    AUC has not improved for `rank.patience` epochs and keeps the best epoch's weights. Sampled
    negatives in the samples join the loss (`rank.loss`) and the validation AUC. Metrics on the
    time-split test samples go into the manifest (see `_test_metrics`), beside `random_split_*`
    metrics of the same model trained again in process on SparrowRecSys's random 80/20 split of
    all samples; the per-epoch loss and validation AUC go into its `curves` and `curves.png`.
    Ray must already be initialised by the caller.
    """
    columns = [*RANK_FEATURES.columns(), *SCORING_COLUMNS, RANK_FEATURES.label, TIME_COLUMN]
    columns += [NEGATIVE, LOGQ]
    rank, seed = settings.rank, settings.train.seed
    all_train = read_sample(paths.train_samples, columns, rank.max_sample_rows, seed)
    test_table = read_sample(paths.test_samples, columns, rank.max_sample_rows, seed)
    cutoff = tail_cutoff(all_train, rank.validation_fraction)
    train_table = before(all_train, cutoff)
    encoder = FeatureEncoder.fit(train_table)
    config = model_config(rank.model, rank, encoder)
    parameters = sum(p.numel() for p in build_model(config).parameters())
    logger.info(
        "rank %s: %d train rows, %d validation rows, %d test rows, vocabularies %s, %d parameters",
        rank.model,
        train_table.num_rows,
        all_train.num_rows - train_table.num_rows,
        test_table.num_rows,
        config.vocab_sizes,
        parameters,
    )
    datasets = {
        "train": _dataset(train_table),
        "validation": _dataset(from_cutoff(all_train, cutoff)),
    }
    run = fit_trainer(_trainer(settings, paths, encoder, config, datasets), rank)
    model = build_model(config)
    model.load_state_dict(run.state)
    artifacts = RankArtifacts(config=config, encoder=encoder, model=model)
    metrics = _test_metrics(artifacts, run, test_table, train_table.num_rows)
    items = read_folder(paths.item_features, ITEM_COLUMNS)
    ndcg = catalogue_ndcg(artifacts, items, all_train, test_table, rank.ndcg_users, seed=seed)
    if ndcg is not None:
        metrics[ndcg_key(10)] = ndcg
    metrics.update(
        random_split_metrics(
            rank.model,
            pa.concat_tables([all_train, test_table]),
            rank,
            seed,
            local_device(settings.train.use_gpu),
        )
    )
    logger.info("rank %s test metrics: %s", rank.model, metrics)

    manifest = publish_rank(
        Registry(paths.registry),
        rank,
        artifacts,
        metrics,
        curves_from_history(run.history),
        fingerprint(paths.train_samples),
        {TRAINED_UNTIL: newest_ms(all_train)},
    )
    logger.info("published rank %s %s", manifest.name, manifest.version)
    return manifest


def _trainer(
    settings: Settings,
    paths: StarlingPaths,
    encoder: FeatureEncoder,
    config: RankModelConfig,
    datasets: dict[str, Dataset],
) -> TorchTrainer:
    rank = settings.rank
    return TorchTrainer(
        train_loop,
        train_loop_config=loop_config(
            encoder,
            config,
            rank.epochs,
            rank.batch_size,
            rank.lr,
            settings.train.seed,
            rank.patience,
            LossSpec.for_encoder(rank.loss, encoder),
        ),
        scaling_config=scaling_config(settings, f"rank {rank.model}"),
        run_config=RunConfig(
            storage_path=str((paths.runtime / "ray_train").resolve()),
            name=f"rank-{rank.model}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
            # Checkpoints come only with a better validation AUC, so the one kept is the best.
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            callbacks=report_callbacks(),
        ),
        datasets=datasets,
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )


def fit_trainer(trainer: TorchTrainer, rank: RankSettings) -> TrainRun:
    started = time.perf_counter()
    result = trainer.fit()
    train_seconds = time.perf_counter() - started
    # Ray Train returns the metrics reported with the kept checkpoint, i.e. the best epoch's.
    best = result.metrics or {}
    best_epoch = int(best.get("best_epoch", 0))
    # train_loop returns rank 0's every epoch; empty only if a Ray Train change dropped it.
    history = list(result.return_value or [])
    # The stopping rule is deterministic: patience epochs after the best, or the epoch limit.
    epochs_run = len(history) or min(best_epoch + rank.patience, rank.epochs)
    logger.info(
        "rank %s trained in %.1f s: %d epochs, best epoch %d (validation AUC %.4f), %.0f samples/s",
        rank.model,
        train_seconds,
        epochs_run,
        best_epoch,
        best.get("best_val_roc_auc", float("nan")),
        best.get("samples_per_s", float("nan")),
    )
    return TrainRun(
        state=_load_state(result.checkpoint),
        best=best,
        best_epoch=best_epoch,
        epochs_run=epochs_run,
        seconds=train_seconds,
        history=history,
    )


def _test_metrics(
    artifacts: RankArtifacts, run: TrainRun, test_table: pa.Table, train_rows: int
) -> dict[str, float]:
    """The best epoch's weights scored on the test samples (`scored_test`: rated-row metrics
    and `negatives_roc_auc`), with the run's own figures."""
    metrics, _, _ = scored_test(artifacts.model, artifacts.encoder, test_table)
    best = run.best
    metrics.update(
        train_loss=float(best.get("loss", float("nan"))),
        train_seconds=run.seconds,
        train_samples_per_s=float(best.get("samples_per_s", 0.0)),
        train_rows=float(train_rows),
        test_rows=float(rated(test_table).num_rows),
        val_roc_auc=float(best.get("best_val_roc_auc", float("nan"))),
        best_epoch=float(run.best_epoch),
        epochs_run=float(run.epochs_run),
    )
    return metrics
