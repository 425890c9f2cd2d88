"""Offline replay of /recommend at the train/test cutoff: Recaller -> RankStage -> Reranker.

The same logic the three deployments run, in process and without Serve, reading the cutoff store
(features as they stood at the cutoff, not the published ones, which include the test period)
and the serving versions of the recall and rank models.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.api import Candidate
from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, Registry
from core.settings import Settings
from evaluation.cutoff_store import CutoffStore
from rank_service.serving.stage import RankStage
from recall_service.index.exact import ExactIndex
from recall_service.registry import recall_model
from recall_service.serving.recaller import Recaller
from rerank_service.item_facts import ItemFacts
from rerank_service.reranker import Reranker


class RecommendReplay:
    """/recommend for any user as of the cutoff; build with `at_cutoff`."""

    def __init__(self, recaller: Recaller, ranker: RankStage, reranker: Reranker) -> None:
        self.recaller = recaller
        self.ranker = ranker
        self.reranker = reranker

    def recommend(self, user_id: int, k: int) -> list[Candidate]:
        recalled = self.recaller.recall(user_id)
        # As the stage chain does: Rank scores with the profile Recall read.
        ranked = self.ranker.rank(user_id, recalled.candidates, recalled.user).candidates
        return self.reranker.rerank(ranked, k).candidates.as_list()

    def lists(self, users: Sequence[int], k: int) -> list[list[int]]:
        """Each user's top-k item ids, best first."""
        return [[c.item_id for c in self.recommend(u, k)] for u in users]


def at_cutoff(settings: Settings, paths: StarlingPaths, store: CutoffStore) -> RecommendReplay:
    """The serving models over the cutoff store, wired as the three deployments wire them."""
    registry = Registry(paths.registry)
    recall_ref, rank_ref = registry.serving("recall"), registry.serving("rank")
    if recall_ref is None or rank_ref is None:
        raise ModelNotFoundError("replaying /recommend needs a recall and a rank model")
    index = ExactIndex.load(registry.path(recall_ref))
    recaller = Recaller(
        index,
        store,
        settings,
        f"{recall_ref.name}:{recall_ref.version}",
        store.genres(),
        recall_model(recall_ref.name).user_vectors(registry.path(recall_ref), index, settings),
    )
    # Scored in the context of the cutoff, like the features the store holds: the replay's
    # wall clock would make its numbers depend on when it runs.
    ranker = RankStage(
        store,
        registry,
        store.item_features,
        settings.rank.model_weight,
        clock=lambda: store.features.cutoff_ms,
    )
    ranker.reconfigure({"name": rank_ref.name, "version": rank_ref.version})
    reranker = Reranker(settings.rerank, ItemFacts.load(store.item_features))
    return RecommendReplay(recaller, ranker, reranker)


def recommend_lists(
    settings: Settings, paths: StarlingPaths, store: CutoffStore, users: Sequence[int], k: int
) -> list[list[int]]:
    """What /recommend would have answered each user at the cutoff (top k, best first)."""
    return at_cutoff(settings, paths, store).lists(users, k)
