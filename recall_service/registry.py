"""The recall models Starling knows: one row per model, with everything that differs between them.

A new recall model is one row here: its torch module, the function that trains and publishes a
version, the data folder whose fingerprint tells when a version is stale, and where a serving
replica gets a user's query vector from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from core.errors import UnknownModelError
from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.registry import ModelManifest
from core.settings import Settings
from recall_service.models.item_bag import ItemBag
from recall_service.models.skipgram import SkipGram
from recall_service.models.two_tower import TwoTower
from recall_service.serving.history_bag import HistoryBagVectors
from recall_service.serving.routes import ItemIndex
from recall_service.serving.user_tower import UserTowerVectors
from recall_service.serving.user_vectors import MeanOfRecentItems, UserVectors
from recall_service.training.deepwalk import train_deepwalk
from recall_service.training.item2vec import train_item2vec
from recall_service.training.item_bag import train_item_bag
from recall_service.training.two_tower import train_two_tower

UserVectorsBuilder = Callable[[Path, ItemIndex, Settings], UserVectors]


@dataclass(frozen=True)
class RecallModel:
    """`train` publishes a new version; `data` names the folder whose fingerprint a version
    records; `user_vectors` builds a replica's user-vector source from a version's folder, the
    item index and the settings."""

    module: type[nn.Module]
    train: Callable[[Settings, StarlingPaths], ModelManifest]
    data: Callable[[StarlingPaths], StoragePath]
    user_vectors: UserVectorsBuilder


def _sequences(paths: StarlingPaths) -> StoragePath:
    return paths.sequences


def _train_samples(paths: StarlingPaths) -> StoragePath:
    return paths.train_samples


def _recent_items(folder: Path, index: ItemIndex, settings: Settings) -> UserVectors:
    return MeanOfRecentItems(index, settings.recall.recent_items)


def _user_tower(folder: Path, index: ItemIndex, settings: Settings) -> UserVectors:
    return UserTowerVectors.load(folder)


def _history_bag(folder: Path, index: ItemIndex, settings: Settings) -> UserVectors:
    return HistoryBagVectors.load(folder, settings.item_bag)


# DeepWalk is skip-gram too: only its training pairs (from random walks) differ.
RECALL_MODELS: dict[str, RecallModel] = {
    "item2vec": RecallModel(SkipGram, train_item2vec, _sequences, _recent_items),
    "deepwalk": RecallModel(SkipGram, train_deepwalk, _sequences, _recent_items),
    "two_tower": RecallModel(TwoTower, train_two_tower, _train_samples, _user_tower),
    "item_bag": RecallModel(ItemBag, train_item_bag, _train_samples, _history_bag),
}


def recall_model(name: str) -> RecallModel:
    """The row of recall model `name`; UnknownModelError names the known ones."""
    if name not in RECALL_MODELS:
        raise UnknownModelError(f"no recall model {name!r}; known: {', '.join(RECALL_MODELS)}")
    return RECALL_MODELS[name]
