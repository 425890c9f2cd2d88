"""`evaluate_recall`: every recall route alone, merged, and two baselines on a held-out split.

Runs in-process: the serving Recaller over exact numpy search of the serving model's item vectors
and the cutoff store (the features job's functions over the split's training part). No Ray,
Serve, Milvus or Redis.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import RecallSettings, Settings
from evaluation.cutoff_features import TimeSplit, read_time_split, split_moment
from evaluation.cutoff_store import CutoffStore
from evaluation.per_user_split import read_per_user_split
from evaluation.recall.item_knn import item_knn_lists
from evaluation.recall.metrics import mean_metrics
from evaluation.recall.report import MethodKind, MethodMetrics, RecallEvaluation, SplitKind
from recall_service.index.exact import ExactIndex
from recall_service.registry import recall_model
from recall_service.serving.recaller import (
    EMBEDDING,
    GENRE,
    ITEM_CF,
    ITEM_TO_ITEM,
    POPULAR,
    Recaller,
)

logger = logging.getLogger(__name__)

KS = (10, 50, 100)
MERGED = "merged"
MOST_POPULAR = "most_popular"
ITEM_KNN = "item_knn"
RECOMMEND = "recommend"

# Each test user's end-to-end top-k list, best first: given the cutoff store, the users and k.
Pipeline = Callable[[CutoffStore, Sequence[int], int], list[list[int]]]
_QUOTA_FIELDS = {
    EMBEDDING: "embedding_quota",
    ITEM_CF: "item_cf_quota",
    ITEM_TO_ITEM: "item_to_item_quota",
    POPULAR: "popular_quota",
    GENRE: "genre_quota",
}


def evaluate_recall(
    settings: Settings,
    paths: StarlingPaths,
    ks: Sequence[int] = KS,
    model: str | None = None,
    pipeline: Pipeline | None = None,
    split: SplitKind = "global",
) -> RecallEvaluation:
    """Recall@K, NDCG@K, HitRate@K (K in `ks`) and catalog coverage on the held-out part.

    A test user's relevant items are their held-out positives that they had not rated in the
    training part. `split` "global" holds out the time after the features job's cutoff,
    "per-user" each user's last `test_fraction` of ratings. Methods see only the cutoff store
    (the training part). The embedding routes use the serving recall model, or the newest
    version of `model` when given. `pipeline`, when given, adds the row "recommend": what it
    answers for max(ks) items from the same store. Writes recall_eval.json and recall_eval.png
    into `paths.stats` and returns the evaluation.
    """
    registry = Registry(paths.registry)
    ref = registry.serving("recall") if model is None else _newest(registry, model)
    if ref is None:
        raise ModelNotFoundError("no recall model: run `starling train recall` first")
    held_out, seen_in_training = _read_split(settings, paths, split)
    users = sorted(held_out.test_positives)
    relevant = [held_out.test_positives[u] for u in users]
    catalog_size = held_out.features.items.num_rows
    logger.info("recall eval: %d test users, %d catalog items", len(users), catalog_size)
    paths.runtime.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.runtime, prefix="cutoff-") as scratch:
        store = CutoffStore.publish(held_out.features, Path(scratch))
        lists = _method_lists(settings, registry, ref, store, users, max(ks))
        if pipeline is not None:
            lists[RECOMMEND] = ("pipeline", pipeline(store, users, max(ks)))

    # Warm: any rating in the training part, the users peers.py scores on the global split.
    warm = [u in held_out.features.seen for u in users]
    evaluation = RecallEvaluation(
        model=f"{ref.name}:{ref.version}",
        split=split,
        users=len(users),
        cold_users=warm.count(False),
        positives=sum(map(len, relevant)),
        positives_seen_in_training=seen_in_training,
        catalog_items=catalog_size,
        popularity_half_life_days=settings.data.popularity_half_life_days,
        ks=list(ks),
        methods=[
            _measure(name, kind, ranked, relevant, warm, ks, catalog_size)
            for name, (kind, ranked) in lists.items()
        ],
    )
    evaluation.save(paths.stats)
    return evaluation


def _read_split(
    settings: Settings, paths: StarlingPaths, split: SplitKind
) -> tuple[TimeSplit, int | None]:
    """The split's features and test positives; for a per-user split, also how many of those
    positives the home's models were trained on (they train on the time split's first part)."""
    data = settings.data
    cutoff = split_moment(paths.train_samples)
    if split == "global":
        return read_time_split(paths.events, paths.items, cutoff, data), None
    per_user = read_per_user_split(paths.events, paths.items, data, trained_before_ms=cutoff)
    return per_user.split, per_user.positives_seen_in_training


def _method_lists(
    settings: Settings,
    registry: Registry,
    ref: ModelRef,
    store: CutoffStore,
    users: Sequence[int],
    k: int,
) -> dict[str, tuple[MethodKind, list[list[int]]]]:
    """Each user's top-k list of every route alone, of the merge and of the two baselines."""
    index = ExactIndex.load(registry.path(ref))
    user_vectors = recall_model(ref.name).user_vectors(registry.path(ref), index, settings)
    genres = store.genres()

    def run(reads: CutoffStore, quotas: RecallSettings) -> list[list[int]]:
        recaller = Recaller(
            index,
            reads,
            settings.model_copy(update={"recall": quotas}),
            f"{ref.name}:{ref.version}",
            genres,
            user_vectors,
        )
        return [recaller.recall(u).candidates.item_ids[:k] for u in users]

    lists: dict[str, tuple[MethodKind, list[list[int]]]] = {}
    for route, field in _QUOTA_FIELDS.items():
        lists[route] = ("route", run(store, _only(settings.recall, field, k)))
    lists[MERGED] = ("merged", run(store, settings.recall))
    popular_only = _only(settings.recall, _QUOTA_FIELDS[POPULAR], k)
    lists[MOST_POPULAR] = ("baseline", run(store.ranked_by("item_rating_count"), popular_only))
    history, seen = store.features.history, store.features.seen
    lists[ITEM_KNN] = ("baseline", item_knn_lists(history, users, seen, k))
    return lists


def _newest(registry: Registry, model: str) -> ModelRef:
    manifest = registry.latest("recall", model)
    if manifest is None:
        raise ModelNotFoundError(
            f"no recall model {model}: run `starling train recall --model {model}`"
        )
    return manifest.ref()


def _only(quotas: RecallSettings, field: str, k: int) -> RecallSettings:
    """These quotas with every route switched off but `field`, which gets k."""
    off = {name: 0 for name in _QUOTA_FIELDS.values()}
    return quotas.model_copy(update={**off, field: k})


def _measure(
    name: str,
    kind: MethodKind,
    ranked: Sequence[Sequence[int]],
    relevant: Sequence[set[int]],
    warm: Sequence[bool],
    ks: Sequence[int],
    catalog_size: int,
) -> MethodMetrics:
    """One method's metrics over all test users, over the warm ones and over the cold ones
    (none for a group without users: zeros would read as a measured failure)."""

    def over(group: bool) -> dict[str, float]:
        chosen = [i for i, w in enumerate(warm) if w == group]
        if not chosen:
            return {}
        lists, wanted = [ranked[i] for i in chosen], [relevant[i] for i in chosen]
        return mean_metrics(lists, wanted, ks, catalog_size)

    return MethodMetrics(
        name=name,
        kind=kind,
        metrics=mean_metrics(ranked, relevant, ks, catalog_size),
        warm_metrics=over(True),
        cold_metrics=over(False),
        users_with_candidates=sum(1 for r in ranked if r),
    )
