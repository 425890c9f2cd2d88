"""`evaluate_recall`: every recall route alone, merged, and two baselines on the time split.

Runs in-process: the serving Recaller over exact numpy search of the serving model's item vectors
and an in-memory copy of the features as they stood at the cutoff. No Ray, Serve, Milvus or Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import RecallSettings, Settings
from evaluation.cutoff_store import FrozenFeatures
from evaluation.recall.data import (
    read_catalog_genres,
    read_test_positives,
    read_train_period,
    top_genres,
)
from evaluation.recall.item_knn import item_knn_lists
from evaluation.recall.metrics import mean_metrics
from evaluation.recall.report import MethodKind, MethodMetrics, RecallEvaluation
from recall_service.index.exact import ExactIndex
from recall_service.registry import recall_model
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.recaller import EMBEDDING, GENRE, ITEM_TO_ITEM, POPULAR, Recaller

logger = logging.getLogger(__name__)

KS = (10, 50, 100)
MERGED = "merged"
MOST_POPULAR = "most_popular"
ITEM_KNN = "item_knn"
RECOMMEND = "recommend"

# Each test user's end-to-end top-k list, best first: given the users and k.
Pipeline = Callable[[Sequence[int], int], list[list[int]]]
_QUOTA_FIELDS = {
    EMBEDDING: "embedding_quota",
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
) -> RecallEvaluation:
    """Recall@K, NDCG@K, HitRate@K (K in `ks`) and catalog coverage on the test period.

    A test user's relevant items are their positives after the cutoff that they had not rated
    before it. Methods see only the train period. The embedding routes use the serving recall
    model, or the newest version of `model` when given. `pipeline`, when given, adds the row
    "recommend": what it answers for max(ks) items. Writes recall_eval.json and recall_eval.png
    into `paths.stats` and returns the evaluation.
    """
    registry = Registry(paths.registry)
    ref = registry.serving("recall") if model is None else _newest(registry, model)
    if ref is None:
        raise ModelNotFoundError("no recall model: run `starling train recall` first")
    index = ExactIndex.load(registry.path(ref))
    user_vectors = recall_model(ref.name).user_vectors(
        registry.path(ref), index, settings.recall.recent_items
    )
    version = f"{ref.name}:{ref.version}"

    train = read_train_period(paths.train_samples)
    history, seen = train.history(), train.seen()
    relevant_by_user = read_test_positives(paths.test_samples, seen)
    users = sorted(relevant_by_user)
    relevant = [relevant_by_user[u] for u in users]
    catalog = read_catalog_genres(paths.items)
    genres_of_user = {u: top_genres(items, catalog) for u, items in history.items()}
    half_life = settings.data.popularity_half_life_days
    decayed = train.decayed_counts(half_life)
    genre_items = [item for item in catalog if item in decayed]
    genres = GenrePopularity.build(
        genre_items, [catalog[i] for i in genre_items], [decayed[i] for i in genre_items]
    )
    logger.info("recall eval: %d test users, %d catalog items", len(users), len(catalog))

    k_max = max(ks)
    warm = [bool(history.get(u)) for u in users]
    decayed_store = FrozenFeatures(history, seen, genres_of_user, decayed)
    counts_store = FrozenFeatures(history, seen, genres_of_user, train.counts())

    def run(store: FrozenFeatures, quotas: RecallSettings) -> list[list[int]]:
        recaller = Recaller(
            index,
            store,
            settings.model_copy(update={"recall": quotas}),
            version,
            genres,
            user_vectors,
        )
        return [recaller.recall(u).candidates.item_ids[:k_max] for u in users]

    lists: dict[str, tuple[MethodKind, list[list[int]]]] = {}
    for route, field in _QUOTA_FIELDS.items():
        lists[route] = ("route", run(decayed_store, _only(settings.recall, field, k_max)))
    lists[MERGED] = ("merged", run(decayed_store, settings.recall))
    popular_only = _only(settings.recall, _QUOTA_FIELDS[POPULAR], k_max)
    lists[MOST_POPULAR] = ("baseline", run(counts_store, popular_only))
    lists[ITEM_KNN] = ("baseline", item_knn_lists(history, users, seen, k_max))
    if pipeline is not None:
        lists[RECOMMEND] = ("pipeline", pipeline(users, k_max))

    evaluation = RecallEvaluation(
        model=version,
        users=len(users),
        cold_users=warm.count(False),
        catalog_items=len(catalog),
        popularity_half_life_days=half_life,
        ks=list(ks),
        methods=[
            _measure(name, kind, ranked, relevant, warm, ks, len(catalog))
            for name, (kind, ranked) in lists.items()
        ],
    )
    evaluation.save(paths.stats)
    return evaluation


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
    warm_ranked = [r for r, w in zip(ranked, warm, strict=True) if w]
    warm_relevant = [t for t, w in zip(relevant, warm, strict=True) if w]
    return MethodMetrics(
        name=name,
        kind=kind,
        metrics=mean_metrics(ranked, relevant, ks, catalog_size),
        warm_metrics=mean_metrics(warm_ranked, warm_relevant, ks, catalog_size),
        users_with_candidates=sum(1 for r in ranked if r),
    )
