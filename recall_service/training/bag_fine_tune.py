"""Fine-tuning a registered item bag with Ray Train: its weights are the start, its vocabulary
grows to the items the new rows bring, and the users with new rows (plus a replay of others, so
that it does not forget them) are trained on with the loss of full training."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.settings import Settings
from core.train_scaling import scaling_config
from recall_service.models.item_bag import ItemBag
from recall_service.training.bag_online_data import BagUpdateSplit
from recall_service.training.bag_version import BagVersion, grow
from recall_service.training.item_bag_data import BagHistories, target_counts
from recall_service.training.item_bag_loop import item_bag_loop
from recall_service.training.item_item import fit_item_item
from recall_service.training.ray_train import final_state, run_config
from recall_service.training.vocab import ItemVocab

MODEL = "item_bag"


@dataclass(frozen=True)
class BagRun:
    """What fine-tuning did: the users it trained on, the last epoch's loss, the seconds its
    training took and those the item-item refit took (0 when off)."""

    users: int
    replayed_users: int
    loss: float
    seconds: float
    item_item_seconds: float


def training_users(split: BagUpdateSplit, replay_ratio: float, seed: int) -> np.ndarray:
    """The users with new rows, and `replay_ratio` times as many others drawn at random."""
    others = np.setdiff1d(np.unique(split.history["user_id"].to_numpy()), split.learnt_users)
    wanted = min(len(others), round(replay_ratio * len(split.learnt_users)))
    replayed = np.random.default_rng(seed).choice(others, size=wanted, replace=False)
    return np.concatenate([split.learnt_users, np.sort(replayed)])


def _item_counts(history: pa.Table, vocab: ItemVocab) -> np.ndarray:
    """How often each item is a positive in every user's history, plus one, (V,): the
    sampler's and the log-q correction's frequencies, over all users, not only those trained."""
    positives = history.filter(pc.equal(history["label"], 1))
    rows = vocab.encode(positives["item_id"].to_numpy())
    return np.bincount(rows[rows >= 0], minlength=len(vocab)) + 1


def fine_tune_bag(
    settings: Settings, paths: StarlingPaths, serving: BagVersion, split: BagUpdateSplit
) -> tuple[BagVersion, BagRun]:
    """Train a copy of `serving`, grown to the split's new items, for
    `settings.online.recall_steps` steps at `settings.online.recall_lr` with Ray Train (Ray
    must be initialised by the caller); its item-CF weights and transitions are refitted on the
    split's history (`online.recall_item_item`) or kept from `serving`, new items getting none."""
    started = time.perf_counter()
    grown = grow(serving, split.learnt_items)
    vocab = ItemVocab(item_ids=grown.item_ids, counts=np.ones(len(grown.item_ids), np.int64))
    users = training_users(split, settings.online.replay_ratio, settings.train.seed)
    rows = split.history.filter(pc.is_in(split.history["user_id"], pa.array(users)))
    histories = BagHistories.from_rows(rows, vocab, grown.params.history_cap)
    bag = settings.item_bag
    _, targets_per_user = target_counts(histories, bag.positive_targets)
    users_per_batch = max(1, bag.batch_size // settings.train.workers)
    steps = settings.online.recall_steps
    trainer = TorchTrainer(
        item_bag_loop,
        train_loop_config={
            **grown.params.module_args(),
            "histories": histories,
            "counts": _item_counts(split.history, vocab),
            "pairs": users_per_batch * targets_per_user * bag.target_fraction,
            "sampled": bag.sampled,
            "power": bag.sample_power,
            "target_fraction": bag.target_fraction,
            "positive_targets": bag.positive_targets,
            # Epochs over the few users of an update are short: the steps bound the run.
            "epochs": steps,
            "max_steps": steps,
            "batch_size": users_per_batch,
            "lr": settings.online.recall_lr,
            "seed": settings.train.seed,
            "initial_state": grown.state_dict(),
        },
        scaling_config=scaling_config(settings, MODEL),
        run_config=run_config(paths, f"{MODEL}-online"),
        # From Arrow: a rename of a numpy dataset is a task asking a whole CPU, which never
        # comes beside the app on 2 CPUs (the app's Learner waited forever for it).
        datasets={
            "train": ray.data.from_arrow(pa.table({"user": np.arange(len(histories.user_ids))}))
        },
    )
    state, reported = final_state(trainer.fit(), MODEL)
    model = ItemBag(**grown.params.module_args())
    model.load_state_dict(state)
    candidate = grown.with_weights(
        model.input_vectors().numpy().copy(), model.item_vectors().numpy().copy()
    )
    trained = time.perf_counter()
    if settings.online.recall_item_item:
        item_cf, transitions = fit_item_item(settings, split.history, vocab)
        candidate = replace(candidate, item_cf=item_cf, transitions=transitions)
    run = BagRun(
        users=len(split.learnt_users),
        replayed_users=len(users) - len(split.learnt_users),
        loss=float(reported["loss"]),
        seconds=trained - started,
        item_item_seconds=time.perf_counter() - trained,
    )
    return candidate, run
