"""Training a skip-gram recall model (item2vec, DeepWalk) with Ray Train and publishing it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import ray.data
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Item2VecSettings, Settings
from core.storage import fingerprint
from core.train_scaling import scaling_config
from recall_service.index.milvus import l2_normalise
from recall_service.models.skipgram import SkipGram
from recall_service.training.pairs import negative_table
from recall_service.training.publish import publish_item_vectors
from recall_service.training.ray_train import final_state, run_config
from recall_service.training.sequences import ItemSequences, read_sequences
from recall_service.training.skipgram_loop import train_loop
from recall_service.training.validation import next_item_hit_rates
from recall_service.training.vocab import ItemVocab

logger = logging.getLogger(__name__)

EVAL_K = 50
EVAL_RECENT = 10
_ROWS_PER_BLOCK = 100_000

# What a model trains on, made from the training sequences (vocabulary rows) and a seeded
# generator: (centers, contexts) and metrics about how they were made.
PairMaker = Callable[
    [ItemSequences, ItemVocab, np.random.Generator],
    tuple[np.ndarray, np.ndarray, dict[str, float]],
]


def train_skipgram(
    settings: Settings,
    paths: StarlingPaths,
    name: str,
    params: Item2VecSettings,
    make_pairs: PairMaker,
) -> ModelManifest:
    """Train `name` on pairs from `paths.sequences` (Ray must be initialised) and publish it.

    The last item of every sequence is held out of training to measure the next-item hit rate
    of the vectors against popularity.
    """
    history, held_users, held_items = read_sequences(paths.sequences).hold_out_last()
    vocab = ItemVocab.from_items(history.items)
    encoded = ItemSequences(history.user_ids, vocab.encode(history.items), history.lengths)
    rng = np.random.default_rng(settings.train.seed)
    centers, contexts, pair_metrics = make_pairs(encoded, vocab, rng)
    if len(centers) == 0:
        raise ValueError(f"no item pairs in {paths.sequences}: sequences are empty or too short")
    order = rng.permutation(len(centers))
    logger.info("%s: %d items, %d pairs", name, len(vocab), len(centers))

    started = time.perf_counter()
    weights, loss = _fit(settings, paths, name, params, vocab, centers[order], contexts[order])
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
        **pair_metrics,
    }
    logger.info("%s metrics: %s", name, metrics)
    return publish_item_vectors(
        paths,
        name,
        vocab.item_ids,
        vectors,
        metrics,
        data_snapshot=fingerprint(paths.sequences),
        params=params.model_dump(),
    )


def _fit(
    settings: Settings,
    paths: StarlingPaths,
    name: str,
    params: Item2VecSettings,
    vocab: ItemVocab,
    centers: np.ndarray,
    contexts: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Run the TorchTrainer; returns the center embeddings (V, D) and the last epoch's loss."""
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={
            "model": name,
            "num_items": len(vocab),
            "dim": params.dim,
            "negatives": params.negatives,
            "epochs": params.epochs,
            # params.batch_size is the global batch, so that adding workers does not cut the
            # number of optimiser steps.
            "batch_size": max(1, params.batch_size // settings.train.workers),
            "lr": params.lr,
            "seed": settings.train.seed,
            "negative_table": negative_table(vocab.counts),
        },
        scaling_config=scaling_config(settings, name),
        run_config=run_config(paths, name),
        datasets={"train": _pairs_dataset(centers, contexts)},
    )
    state, metrics = final_state(trainer.fit(), name)
    model = SkipGram(len(vocab), params.dim)
    model.load_state_dict(state)
    return model.item_vectors().numpy(), float(metrics["loss"])


def _pairs_dataset(centers: np.ndarray, contexts: np.ndarray) -> ray.data.Dataset:
    """The pairs as a Ray Dataset cut into blocks, so every worker gets a share."""
    table = pa.table({"center": centers.astype(np.int64), "context": contexts.astype(np.int64)})
    blocks = [
        table.slice(begin, _ROWS_PER_BLOCK) for begin in range(0, len(table), _ROWS_PER_BLOCK)
    ]
    return ray.data.from_arrow(blocks)
