"""train_rank: fit the encoder, train with Ray Train, evaluate on the test samples, publish."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray.data
import torch
from ray.data import Dataset
from ray.train import Checkpoint, CheckpointConfig, DataConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from core.feature_schema import RANK_FEATURES
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings, Settings
from core.storage import fingerprint
from rank_service.artifacts import MODEL_FILE, save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.parquet import parquet_files, read_folder
from rank_service.predict import predict
from rank_service.training.holdout import local_device, model_config, random_split_metrics
from rank_service.training.metrics import evaluate
from rank_service.training.splits import TIME_COLUMN, before, from_cutoff, tail_cutoff
from rank_service.training.train_loop import loop_config, train_loop

logger = logging.getLogger(__name__)


def _use_gpu(settings: Settings) -> bool:
    if settings.train.use_gpu and not torch.cuda.is_available():
        logger.warning("train.use_gpu is set but no CUDA GPU is visible: training on CPU")
        return False
    return settings.train.use_gpu


def _load_state(checkpoint: Checkpoint | None) -> dict[str, torch.Tensor]:
    if checkpoint is None:
        raise RuntimeError("Ray Train finished without a checkpoint")
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / MODEL_FILE, map_location="cpu", weights_only=True)


def _filtered(table: pa.Table, cutoff: pa.Scalar, tail: bool) -> pa.Table:
    return from_cutoff(table, cutoff) if tail else before(table, cutoff)


DATA_TASK_CPUS = 0.25


def _read(paths: StarlingPaths, columns: list[str], cutoff: pa.Scalar, tail: bool) -> Dataset:
    """The train samples before `cutoff` (or from it, with `tail`) as a Ray Data stream.

    Its tasks ask for a fraction of a CPU: with Serve replicas and the Train workers holding
    most of a small cluster, tasks wanting a whole CPU would never be scheduled and training
    would wait forever (seen with `ray job submit` beside the running app on 2 CPUs).
    """
    files, fs = parquet_files(paths.train_samples)
    return ray.data.read_parquet(
        files,
        filesystem=fs,
        columns=columns,
        num_cpus=DATA_TASK_CPUS,
    ).map_batches(
        _filtered,
        batch_format="pyarrow",
        fn_kwargs={"cutoff": cutoff, "tail": tail},
        num_cpus=DATA_TASK_CPUS,
    )


@dataclass(frozen=True)
class _TrainRun:
    """What a Ray Train run left: the best epoch's weights and reported metrics."""

    state: dict[str, torch.Tensor]
    best: dict[str, Any]
    best_epoch: int
    epochs_run: int
    seconds: float


def train_rank(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train `settings.rank.model` on the train samples and publish it as a new rank version.

    The last `rank.validation_fraction` of train time is held out: training stops when its ROC
    AUC has not improved for `rank.patience` epochs and keeps the best epoch's weights. Metrics
    on the time-split test samples go into the manifest, beside `random_split_*` metrics of the
    same model trained again in process on SparrowRecSys's random 80/20 split of all samples.
    Ray must already be initialised by the caller.
    """
    columns = [*RANK_FEATURES.columns(), RANK_FEATURES.label, TIME_COLUMN]
    all_train = read_folder(paths.train_samples, columns)
    test_table = read_folder(paths.test_samples, columns)
    rank = settings.rank
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
        "train": _read(paths, columns, cutoff, tail=False),
        "validation": _read(paths, columns, cutoff, tail=True),
    }
    run = _fit(_trainer(settings, paths, encoder, config, datasets), rank)
    metrics = _test_metrics(config, encoder, run, test_table, train_table.num_rows)
    metrics.update(
        random_split_metrics(
            rank.model,
            pa.concat_tables([all_train, test_table]),
            rank,
            settings.train.seed,
            local_device(settings.train.use_gpu),
        )
    )
    logger.info("rank %s test metrics: %s", rank.model, metrics)

    manifest = Registry(paths.registry).publish(
        "rank",
        rank.model,
        write=lambda folder: save_artifacts(folder, config, encoder, run.state),
        metrics=metrics,
        data_snapshot=fingerprint(paths.train_samples),
        params=rank.model_dump(),
        feature_schema_hash=RANK_FEATURES.hash(),
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
        ),
        scaling_config=ScalingConfig(
            num_workers=settings.train.workers,
            use_gpu=_use_gpu(settings),
            resources_per_worker={"CPU": settings.train.cpus_per_worker},
        ),
        run_config=RunConfig(
            storage_path=str((paths.runtime / "ray_train").resolve()),
            name=f"rank-{rank.model}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
            # Checkpoints come only with a better validation AUC, so the one kept is the best.
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
        datasets=datasets,
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )


def _fit(trainer: TorchTrainer, rank: RankSettings) -> _TrainRun:
    started = time.perf_counter()
    result = trainer.fit()
    train_seconds = time.perf_counter() - started
    # Ray Train returns the metrics reported with the kept checkpoint, i.e. the best epoch's.
    best = result.metrics or {}
    best_epoch = int(best.get("best_epoch", 0))
    # The stopping rule is deterministic: patience epochs after the best, or the epoch limit.
    epochs_run = min(best_epoch + rank.patience, rank.epochs)
    logger.info(
        "rank %s trained in %.1f s: %d epochs, best epoch %d (validation AUC %.4f), %.0f samples/s",
        rank.model,
        train_seconds,
        epochs_run,
        best_epoch,
        best.get("best_val_roc_auc", float("nan")),
        best.get("samples_per_s", float("nan")),
    )
    return _TrainRun(
        state=_load_state(result.checkpoint),
        best=best,
        best_epoch=best_epoch,
        epochs_run=epochs_run,
        seconds=train_seconds,
    )


def _test_metrics(
    config: RankModelConfig,
    encoder: FeatureEncoder,
    run: _TrainRun,
    test_table: pa.Table,
    train_rows: int,
) -> dict[str, float]:
    """The best epoch's weights scored on the test samples, with the run's own figures."""
    model = build_model(config)
    model.load_state_dict(run.state)
    probs = predict(model, encoder, test_table)
    labels = test_table.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False)
    metrics = evaluate(labels, probs)
    best = run.best
    metrics.update(
        train_loss=float(best.get("loss", float("nan"))),
        train_seconds=run.seconds,
        train_samples_per_s=float(best.get("samples_per_s", 0.0)),
        train_rows=float(train_rows),
        test_rows=float(test_table.num_rows),
        val_roc_auc=float(best.get("best_val_roc_auc", float("nan"))),
        best_epoch=float(run.best_epoch),
        epochs_run=float(run.epochs_run),
    )
    return metrics
