"""Train DeepWalk: random walks over the item transition graph, then skip-gram over the walks."""

from __future__ import annotations

import numpy as np

from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Settings
from recall_service.training.pairs import skipgram_pairs
from recall_service.training.sequences import ItemSequences
from recall_service.training.skipgram import train_skipgram
from recall_service.training.transition_graph import TransitionGraph
from recall_service.training.vocab import ItemVocab

MODEL = "deepwalk"


def train_deepwalk(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Build the graph from `paths.sequences`, walk it `walks_per_item` times from every item
    that has a successor, and train skip-gram on the walks (Ray must be initialised)."""
    params = settings.deepwalk

    def pairs(
        sequences: ItemSequences, vocab: ItemVocab, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        graph = TransitionGraph.from_sequences(sequences.items, sequences.lengths, len(vocab))
        starts = np.repeat(graph.sources(), params.walks_per_item)
        walks = graph.walks(rng.permutation(starts), params.walk_length, rng)
        centers, contexts = skipgram_pairs(walks.items, walks.lengths, params.window)
        stats = {"edges": float(len(graph.targets)), "walks": float(len(starts))}
        return centers, contexts, stats

    return train_skipgram(settings, paths, MODEL, params, pairs)
