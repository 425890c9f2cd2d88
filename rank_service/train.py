"""train_rank: fit the encoder, train with Ray Train, evaluate on the test samples, publish."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import ray.data
import torch
from ray.train import Checkpoint, CheckpointConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from core.feature_schema import RANK_FEATURES
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import Settings
from core.storage import fingerprint
from rank_service.artifacts import MODEL_FILE, save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.metrics import evaluate
from rank_service.models import RankModelConfig, build_model
from rank_service.parquet import parquet_files, read_folder
from rank_service.predict import predict
from rank_service.train_loop import loop_config, train_loop

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


def train_rank(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train `settings.rank.model` on the train samples and publish it as a new rank version.

    Ray must already be initialised by the caller.
    """
    columns = [*RANK_FEATURES.columns(), RANK_FEATURES.label]
    train_table = read_folder(paths.train_samples, columns)
    test_table = read_folder(paths.test_samples, columns)
    encoder = FeatureEncoder.fit(train_table)
    rank = settings.rank
    config = RankModelConfig(
        name=rank.model,
        embedding_dim=rank.embedding_dim,
        hidden=rank.hidden,
        vocab_sizes=encoder.vocab_sizes(),
    )
    parameters = sum(p.numel() for p in build_model(config).parameters())
    logger.info(
        "rank %s: %d train rows, %d test rows, vocabularies %s, %d parameters",
        rank.model,
        train_table.num_rows,
        test_table.num_rows,
        config.vocab_sizes,
        parameters,
    )

    trainer = TorchTrainer(
        train_loop,
        train_loop_config=loop_config(
            encoder, config, rank.epochs, rank.batch_size, rank.lr, settings.train.seed
        ),
        scaling_config=ScalingConfig(
            num_workers=settings.train.workers,
            use_gpu=_use_gpu(settings),
            resources_per_worker={"CPU": settings.train.cpus_per_worker},
        ),
        run_config=RunConfig(
            storage_path=str((paths.runtime / "ray_train").resolve()),
            name=f"rank-{rank.model}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
            # Only the last epoch is published; older checkpoints would just fill the disk.
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
        datasets={
            "train": ray.data.read_parquet(parquet_files(paths.train_samples), columns=columns)
        },
    )
    started = time.perf_counter()
    result = trainer.fit()
    train_seconds = time.perf_counter() - started
    last = result.metrics or {}
    logger.info(
        "rank %s trained in %.1f s: %s epochs, last epoch loss %.4f, %.0f samples/s",
        rank.model,
        train_seconds,
        last.get("epoch"),
        last.get("loss", float("nan")),
        last.get("samples_per_s", float("nan")),
    )

    model = build_model(config)
    state = _load_state(result.checkpoint)
    model.load_state_dict(state)
    probs = predict(model, encoder, test_table)
    labels = test_table.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False)
    metrics = evaluate(labels, probs)
    metrics.update(
        train_loss=float(last.get("loss", float("nan"))),
        train_seconds=train_seconds,
        train_samples_per_s=float(last.get("samples_per_s", 0.0)),
        train_rows=float(train_table.num_rows),
        test_rows=float(test_table.num_rows),
    )
    logger.info("rank %s test metrics: %s", rank.model, metrics)

    manifest = Registry(paths.registry).publish(
        "rank",
        rank.model,
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics=metrics,
        data_snapshot=fingerprint(paths.train_samples),
        params=rank.model_dump(),
        feature_schema_hash=RANK_FEATURES.hash(),
    )
    logger.info("published rank %s %s", manifest.name, manifest.version)
    return manifest
