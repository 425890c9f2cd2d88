"""Train the item bag with Ray Train and publish its output vectors and input embeddings."""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
import torch
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Settings
from core.storage import fingerprint, parquet_dataset
from core.train_scaling import scaling_config
from recall_service.models.item_bag import ItemBag
from recall_service.models.item_bag_files import BagParams
from recall_service.training.bag_online_data import times_ms
from recall_service.training.bag_version import TRAINED_UNTIL, BagVersion
from recall_service.training.item_bag_data import BagHistories, target_counts
from recall_service.training.item_bag_loop import item_bag_loop
from recall_service.training.item_item import fit_item_item
from recall_service.training.publish import publish_item_vectors
from recall_service.training.ray_train import final_state, run_config
from recall_service.training.validation import hit_rates
from recall_service.training.vocab import ItemVocab

logger = logging.getLogger(__name__)

MODEL = "item_bag"
EVAL_K = 50
COLUMNS = ["user_id", "item_id", "ts", "label"]


def train_item_bag(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train on every rated row of `paths.train_samples` (Ray must be initialised) and publish
    the unit output vectors F as the item vectors, with the input embeddings E that serving
    averages into user vectors and the item-CF weights fitted on the same rows.

    Each user's newest positive is held out to measure the hit rate of the user vector made of
    the rest of their history against popularity.
    """
    params = settings.item_bag
    rated = rated_rows(paths)
    rows, held = _hold_out_newest_positive(rated)
    vocab = ItemVocab.from_items(rows["item_id"].to_numpy())
    if len(vocab) < 2:
        raise ValueError(f"fewer than two rated items in {paths.train_samples}")
    histories = BagHistories.from_rows(rows, vocab, params.history_cap)
    counts, targets_per_user = target_counts(histories, params.positive_targets)
    bag = BagParams(
        num_items=len(vocab),
        dim=params.dim,
        temperature=params.temperature,
        history_cap=params.history_cap,
    )
    logger.info("item_bag: %d items, %d users", len(vocab), len(histories.user_ids))

    started = time.perf_counter()
    state, reported = _fit(settings, paths, bag, histories, counts, targets_per_user)
    train_seconds = time.perf_counter() - started
    model = ItemBag(**bag.module_args())
    model.load_state_dict(state)
    model.eval()
    vectors = model.item_vectors().numpy()

    rates = _held_out_hit_rates(model, histories, vocab, held, vectors)
    started = time.perf_counter()
    item_cf, transitions = fit_item_item(settings, rated, vocab)
    item_cf_seconds = time.perf_counter() - started
    metrics = {
        "train_loss": float(reported["loss"]),
        f"hit_rate_at_{EVAL_K}": rates["hit_rate"],
        f"popular_hit_rate_at_{EVAL_K}": rates["popular_hit_rate"],
        "eval_users": rates["eval_users"],
        "items": float(len(vocab)),
        "users": float(len(histories.user_ids)),
        "train_seconds": train_seconds,
        "item_cf_items": float(np.count_nonzero(np.diff(item_cf.indptr))) if item_cf else 0.0,
        "item_cf_seconds": item_cf_seconds,
        "transition_weights": float(len(transitions.weights)) if transitions else 0.0,
    }
    logger.info("item_bag metrics: %s", metrics)

    version = BagVersion(
        item_ids=vocab.item_ids,
        inputs=model.input_vectors().numpy(),
        outputs=vectors,
        params=bag,
        item_cf=item_cf,
        transitions=transitions,
    )
    return publish_item_vectors(
        paths,
        MODEL,
        vocab.item_ids,
        vectors,
        metrics,
        data_snapshot=fingerprint(paths.train_samples),
        # The online update learns what is newer than this (every rated row was read).
        params={**params.model_dump(), TRAINED_UNTIL: int(times_ms(rated).max())},
        write_model=version.write_files,
    )


def _fit(
    settings: Settings,
    paths: StarlingPaths,
    bag: BagParams,
    histories: BagHistories,
    counts: np.ndarray,
    targets_per_user: float,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Run the TorchTrainer over the users; the final state dict and reported metrics."""
    params = settings.item_bag
    # params.batch_size is the global batch, so that adding workers does not cut the steps.
    users_per_batch = max(1, params.batch_size // settings.train.workers)
    # From Arrow, not numpy plus a rename: a rename is a Ray Data task that asks a whole CPU,
    # which never comes beside a running app on 2 CPUs (training then waits forever).
    users = ray.data.from_arrow(pa.table({"user": np.arange(len(histories.user_ids))}))
    trainer = TorchTrainer(
        item_bag_loop,
        train_loop_config={
            **bag.module_args(),
            "histories": histories,
            "counts": counts,
            # Targets a worker's batch holds, which the log-q correction expects.
            "pairs": users_per_batch * targets_per_user * params.target_fraction,
            "sampled": params.sampled,
            "power": params.sample_power,
            "target_fraction": params.target_fraction,
            "positive_targets": params.positive_targets,
            "epochs": params.epochs,
            "max_steps": params.max_steps,
            "batch_size": users_per_batch,
            "lr": params.lr,
            "seed": settings.train.seed,
        },
        scaling_config=scaling_config(settings, MODEL),
        run_config=run_config(paths, MODEL),
        datasets={"train": users},
    )
    return final_state(trainer.fit(), MODEL)


def rated_rows(paths: StarlingPaths, test: bool = True) -> pa.Table:
    """Every rated row of the train and (unless `test` is False) the test samples; rows the
    negative sampler added (items never rated) are no history.

    The test samples are the newest share of time, which the rankers' evaluation keeps apart;
    the bag measures itself on each user's newest positive instead, so it learns from them too:
    they hold the items users turn to now. With them, /recommend on the per-user validation
    carve went from Recall@50 0.342 to 0.356 (bench/results/quality.txt).
    """
    tables = []
    for folder in (paths.train_samples, paths.test_samples)[: 2 if test else 1]:
        dataset = parquet_dataset(folder, exclude_invalid_files=True)
        rated = ~pc.field("negative") if "negative" in dataset.schema.names else None
        tables.append(dataset.to_table(columns=COLUMNS, filter=rated))
    return pa.concat_tables(tables, promote_options="permissive")


def _hold_out_newest_positive(rows: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The rows less each user's newest positive (users with another row), and those."""
    rows = rows.sort_by([("user_id", "ascending"), ("ts", "ascending")])
    users = rows["user_id"].to_numpy()
    _, user_index, rows_per_user = np.unique(users, return_inverse=True, return_counts=True)
    positive = np.flatnonzero(rows["label"].to_numpy() == 1)
    # The last positive of each user's run of positives (rows are sorted by user, then time).
    last = np.ones(len(positive), dtype=bool)
    last[:-1] = users[positive][1:] != users[positive][:-1]
    newest = positive[last]
    held = np.zeros(len(users), dtype=bool)
    held[newest[rows_per_user[user_index[newest]] >= 2]] = True
    return rows.filter(pa.array(~held)), rows.filter(pa.array(held))


def _held_out_hit_rates(
    model: ItemBag,
    histories: BagHistories,
    vocab: ItemVocab,
    held: pa.Table,
    vectors: np.ndarray,
) -> dict[str, float]:
    row_of = {user: row for row, user in enumerate(histories.user_ids.tolist())}
    users = [row_of.get(user, -1) for user in held["user_id"].to_numpy().tolist()]
    targets = vocab.encode(held["item_id"].to_numpy())
    kept = np.flatnonzero((np.asarray(users) >= 0) & (targets >= 0))
    rows = np.asarray(users, dtype=np.int64)[kept]
    with torch.no_grad():
        queries = model.users(torch.as_tensor(histories.items[rows])).numpy()
    exclude = [items[items != histories.pad] for items in histories.items[rows]]
    return hit_rates(queries, exclude, targets[kept], vectors, vocab.counts, EVAL_K)
