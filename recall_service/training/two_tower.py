"""Train the two-tower with Ray Train and publish its item vectors and user tower."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import ray.data
import torch
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Settings
from core.storage import fingerprint
from core.train_scaling import scaling_config
from recall_service.models.two_tower import TwoTower
from recall_service.models.two_tower_encoder import ENCODER_FILE, TwoTowerEncoder
from recall_service.models.two_tower_params import MODEL_FILE, MODEL_PARAMS_FILE, TowerParams
from recall_service.training.publish import publish_item_vectors
from recall_service.training.ray_train import final_state, run_config
from recall_service.training.two_tower_data import PositiveRows
from recall_service.training.two_tower_loop import two_tower_loop
from recall_service.training.validation import hit_rates

logger = logging.getLogger(__name__)

MODEL = "two_tower"
EVAL_K = 50
_ROWS_PER_BLOCK = 20_000


def train_two_tower(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train on the positive rows of `paths.train_samples` (Ray must be initialised), export
    the item tower's vectors of every trained item and publish them with the user tower.

    Each user's last positive is held out to measure the next-item hit rate of the user tower
    (fed the features the user had just before it) against popularity.
    """
    params = settings.two_tower
    rows = PositiveRows.read(paths.train_samples)
    if rows.train.num_rows < 2:
        raise ValueError(f"fewer than two positive samples in {paths.train_samples}")
    encoder = TwoTowerEncoder.fit(rows.train)
    tower = TowerParams(
        num_items=encoder.num_items,
        num_genres=encoder.num_genres,
        dim=params.dim,
        hidden=params.hidden,
        temperature=params.temperature,
    )
    logger.info("two_tower: %d items, %d rows", len(encoder.item_ids), rows.train.num_rows)

    started = time.perf_counter()
    trainer = TorchTrainer(
        two_tower_loop,
        train_loop_config={
            "model": tower.model_dump(),
            "encoder": encoder.model_dump_json(),
            "epochs": params.epochs,
            "batch_size": max(2, params.batch_size // settings.train.workers),
            "lr": params.lr,
            "seed": settings.train.seed,
        },
        scaling_config=scaling_config(settings, MODEL),
        run_config=run_config(paths, MODEL),
        datasets={"train": _dataset(rows.shuffled_train(settings.train.seed))},
    )
    state, reported = final_state(trainer.fit(), MODEL)
    train_seconds = time.perf_counter() - started
    model = TwoTower(**tower.model_dump())
    model.load_state_dict(state)
    model.eval()

    vectors = item_vectors(model, encoder, rows)
    rates = _held_out_hit_rates(model, encoder, rows, vectors)
    metrics = {
        "train_loss": float(reported["loss"]),
        f"hit_rate_at_{EVAL_K}": rates["hit_rate"],
        f"popular_hit_rate_at_{EVAL_K}": rates["popular_hit_rate"],
        "eval_users": rates["eval_users"],
        "items": float(len(encoder.item_ids)),
        "rows": float(rows.train.num_rows),
        "train_seconds": train_seconds,
    }
    logger.info("two_tower metrics: %s", metrics)

    def write_model(folder: Path) -> None:
        torch.save(model.state_dict(), folder / MODEL_FILE)
        (folder / MODEL_PARAMS_FILE).write_text(tower.model_dump_json())
        (folder / ENCODER_FILE).write_text(encoder.model_dump_json())

    return publish_item_vectors(
        paths,
        MODEL,
        np.asarray(encoder.item_ids, dtype=np.int64),
        vectors,
        metrics,
        data_snapshot=fingerprint(paths.train_samples),
        params=params.model_dump(),
        write_model=write_model,
    )


def item_vectors(model: TwoTower, encoder: TwoTowerEncoder, rows: PositiveRows) -> np.ndarray:
    """The item tower's unit vectors of the vocabulary's items, in its order: (V, D)."""
    table = rows.train
    _, first = np.unique(table["item_id"].to_numpy(), return_index=True)
    # np.unique sorts like the encoder's vocabulary, so row i is item_ids[i].
    items = table.take(first)
    with torch.no_grad():
        batch = {k: torch.as_tensor(v) for k, v in encoder.items(items).items()}
        return model.items(batch).numpy()


def _held_out_hit_rates(
    model: TwoTower, encoder: TwoTowerEncoder, rows: PositiveRows, vectors: np.ndarray
) -> dict[str, float]:
    held = rows.held
    with torch.no_grad():
        batch = {k: torch.as_tensor(v) for k, v in encoder.users(held).items()}
        queries = model.users(batch).numpy()
    targets = encoder.item_rows(held["item_id"].to_numpy()) - 1
    exclude = [
        encoder.item_rows(items) - 1 for items in rows.train_items_of(held["user_id"].to_numpy())
    ]
    counts = np.asarray(encoder.item_counts, dtype=np.float64)
    return hit_rates(queries, exclude, targets, vectors, counts, EVAL_K)


def _dataset(table: pa.Table) -> ray.data.Dataset:
    """The rows as a Ray Dataset cut into blocks, so every worker gets a share."""
    blocks = [
        table.slice(begin, _ROWS_PER_BLOCK) for begin in range(0, table.num_rows, _ROWS_PER_BLOCK)
    ]
    return ray.data.from_arrow(blocks)
