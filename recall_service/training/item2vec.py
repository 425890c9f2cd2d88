"""Train item2vec: skip-gram over the pairs of items close together in users' sequences."""

from __future__ import annotations

import numpy as np

from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Settings
from recall_service.training.pairs import skipgram_pairs
from recall_service.training.sequences import ItemSequences
from recall_service.training.skipgram import train_skipgram
from recall_service.training.vocab import ItemVocab

MODEL = "item2vec"


def train_item2vec(settings: Settings, paths: StarlingPaths) -> ModelManifest:
    """Train on `paths.sequences` with Ray Train (Ray must be initialised) and publish it."""
    window = settings.item2vec.window

    def pairs(
        sequences: ItemSequences, _vocab: ItemVocab, _rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        centers, contexts = skipgram_pairs(sequences.items, sequences.lengths, window)
        return centers, contexts, {}

    return train_skipgram(settings, paths, MODEL, settings.item2vec, pairs)
