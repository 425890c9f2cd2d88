"""Offline replay of /recommend at the train/test cutoff: Recaller -> RankStage -> Reranker.

The same logic the three deployments run, in process and without Serve, reading the features
as they stood at the cutoff (not the published ones, which include the test period) and the
serving versions of the recall and rank models.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from core.api import Candidate
from core.online_store import UserProfile, UserState
from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, Registry
from core.settings import Settings
from evaluation.cutoff_features import CutoffFeatures, features_at, split_moment
from rank_service.serving.stage import RankStage
from recall_service.index.exact import ExactIndex
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.recaller import Recaller
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker


class CutoffStore:
    """The online-store reads of recall and rank, answered from features at the cutoff."""

    def __init__(self, features: CutoffFeatures) -> None:
        self._profiles = {row["user_id"]: UserProfile(**row) for row in features.users.to_pylist()}
        self._seen = features.seen
        items = features.items.filter(features.items["item_rating_count"].to_numpy() > 0)
        pairs = zip(items["item_id"].to_pylist(), items["item_popularity"].to_pylist(), strict=True)
        self._ranking = sorted(pairs, key=lambda pair: (-pair[1], pair[0]))

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=self._profiles.get(user_id),
            seen=self._seen.get(user_id, set()),
            snapshot=None,
        )

    def profiles(self, user_ids: list[int]) -> dict[int, UserProfile]:
        return {u: self._profiles[u] for u in user_ids if u in self._profiles}

    def popular(self, n: int) -> list[tuple[int, float]]:
        return self._ranking[:n]


class RecommendReplay:
    """/recommend for any user as of the cutoff; build with `at_cutoff`."""

    def __init__(self, recaller: Recaller, ranker: RankStage, reranker: Reranker) -> None:
        self.recaller = recaller
        self.ranker = ranker
        self.reranker = reranker

    def recommend(self, user_id: int, k: int) -> list[Candidate]:
        recalled = self.recaller.recall(user_id).candidates
        ranked = self.ranker.rank(user_id, recalled).candidates
        return self.reranker.rerank(ranked, k).candidates.as_list()

    def lists(self, users: Sequence[int], k: int) -> list[list[int]]:
        """Each user's top-k item ids, best first."""
        return [[c.item_id for c in self.recommend(u, k)] for u in users]


def at_cutoff(settings: Settings, paths: StarlingPaths, scratch: Path) -> RecommendReplay:
    """The serving models over features at the split recorded with the train samples.

    The cutoff item features are written into `scratch`, where the rank and rerank stages read
    them as they read the published ones.
    """
    registry = Registry(paths.registry)
    recall_ref, rank_ref = registry.serving("recall"), registry.serving("rank")
    if recall_ref is None or rank_ref is None:
        raise ModelNotFoundError("replaying /recommend needs a recall and a rank model")
    features = features_at(
        paths.events,
        paths.items,
        split_moment(paths.train_samples),
        settings.data.label_threshold,
        settings.data.popularity_half_life_days,
    )
    item_folder = scratch / "items"
    item_folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(features.items, item_folder / "part-0.parquet")
    store = CutoffStore(features)
    recaller = Recaller(
        ExactIndex.load(registry.path(recall_ref)),
        store,
        settings,
        f"{recall_ref.name}:{recall_ref.version}",
        GenrePopularity.from_item_features(item_folder),
    )
    ranker = RankStage(store, registry, item_folder)
    ranker.reconfigure({"name": rank_ref.name, "version": rank_ref.version})
    return RecommendReplay(recaller, ranker, Reranker(settings.rerank, ItemFacts.load(item_folder)))


def recommend_lists(
    settings: Settings, paths: StarlingPaths, users: Sequence[int], k: int
) -> list[list[int]]:
    """What /recommend would have answered each user at the cutoff (top k, best first)."""
    paths.runtime.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.runtime, prefix="replay-") as scratch:
        return at_cutoff(settings, paths, Path(scratch)).lists(users, k)
