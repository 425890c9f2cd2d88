"""Train item2vec with Ray Train and publish its item vectors and Milvus index to the registry."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import ray
import ray.data
import torch
from ray.train import CheckpointConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import Settings
from core.storage import fingerprint
from recall_service.evaluate import next_item_hit_rates
from recall_service.index import l2_normalise
from recall_service.index_artifacts import write_index_artifacts
from recall_service.models import MODELS
from recall_service.pairs import negative_table, skipgram_pairs
from recall_service.sequences import ItemSequences, read_sequences
from recall_service.train_loop import CHECKPOINT_FILE, train_loop
from recall_service.vocab import ItemVocab

logger = logging.getLogger(__name__)

MODEL = "item2vec"
EVAL_K = 50
EVAL_RECENT = 10
_ROWS_PER_BLOCK = 100_000


def train_item2vec(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train on `paths.sequences` (Ray must be initialised) and publish a new recall version.

    The last item of every sequence is held out of training to measure the next-item hit rate
    of the vectors against popularity.
    """
    params = settings.item2vec
    history, held_users, held_items = read_sequences(paths.sequences).hold_out_last()
    vocab = ItemVocab.from_items(history.items)
    encoded = ItemSequences(history.user_ids, vocab.encode(history.items), history.lengths)
    centers, contexts = skipgram_pairs(encoded.items, encoded.lengths, params.window)
    if len(centers) == 0:
        raise ValueError(f"no item pairs in {paths.sequences}: sequences are empty or too short")
    order = np.random.default_rng(settings.train.seed).permutation(len(centers))
    logger.info("item2vec: %d items, %d pairs", len(vocab), len(centers))

    started = time.perf_counter()
    weights, loss = _fit(settings, paths, vocab, centers[order], contexts[order])
    train_seconds = time.perf_counter() - started
    vectors = l2_normalise(weights)

    rates = next_item_hit_rates(
        vectors, vocab.counts, encoded, held_users, vocab.encode(held_items), EVAL_K, EVAL_RECENT
    )
    metrics = {
        "train_loss": loss,
        f"hit_rate_at_{EVAL_K}": rates["hit_rate"],
        f"popular_hit_rate_at_{EVAL_K}": rates["popular_hit_rate"],
        "eval_users": rates["eval_users"],
        "items": float(len(vocab)),
        "pairs": float(len(centers)),
        "train_seconds": train_seconds,
    }
    logger.info("item2vec metrics: %s", metrics)

    def write(folder: Path) -> None:
        # Skip-gram scores pairs by dot product; on these unit vectors that is cosine.
        write_index_artifacts(folder, paths, vocab.item_ids, vectors, metric="IP")

    return Registry(paths.registry).publish(
        "recall",
        MODEL,
        write=write,
        metrics=metrics,
        data_snapshot=fingerprint(paths.sequences),
        params=params.model_dump(),
    )


def _fit(
    settings: Settings,
    paths: StarlingPaths,
    vocab: ItemVocab,
    centers: np.ndarray,
    contexts: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Run the TorchTrainer; returns the center embeddings (V, D) and the last epoch's loss."""
    params = settings.item2vec
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={
            "model": MODEL,
            "num_items": len(vocab),
            "dim": params.dim,
            "negatives": params.negatives,
            "epochs": params.epochs,
            # settings.item2vec.batch_size is the global batch, so that adding workers does
            # not cut the number of optimiser steps.
            "batch_size": max(1, params.batch_size // settings.train.workers),
            "lr": params.lr,
            "seed": settings.train.seed,
            "negative_table": negative_table(vocab.counts),
        },
        scaling_config=ScalingConfig(
            num_workers=settings.train.workers,
            use_gpu=_use_gpu(settings),
            resources_per_worker={"CPU": settings.train.cpus_per_worker},
        ),
        run_config=RunConfig(
            storage_path=str(paths.runtime / "ray_train"),
            name=f"{MODEL}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}",
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
        datasets={"train": _pairs_dataset(centers, contexts)},
    )
    result = trainer.fit()
    if result.checkpoint is None or result.metrics is None:
        raise RuntimeError("item2vec training finished without reporting a checkpoint")
    model = MODELS[MODEL](len(vocab), params.dim)
    with result.checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.item_vectors().numpy(), float(result.metrics["loss"])


def _pairs_dataset(centers: np.ndarray, contexts: np.ndarray) -> ray.data.Dataset:
    """The pairs as a Ray Dataset cut into blocks, so every worker gets a share."""
    table = pa.table({"center": centers.astype(np.int64), "context": contexts.astype(np.int64)})
    blocks = [
        table.slice(begin, _ROWS_PER_BLOCK) for begin in range(0, len(table), _ROWS_PER_BLOCK)
    ]
    return ray.data.from_arrow(blocks)


def _use_gpu(settings: Settings) -> bool:
    """GPU workers when asked for and the cluster has a GPU (the driver itself may lack one)."""
    if not settings.train.use_gpu:
        return False
    if torch.cuda.is_available() or ray.cluster_resources().get("GPU", 0) >= 1:
        return True
    logger.warning("a GPU was asked for but none exists: training item2vec on CPU")
    return False
