"""The recall models `starling train recall --model NAME` knows, and what each trains on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.registry import ModelManifest, ModelNotFoundError
from core.settings import Settings
from recall_service.deepwalk import train_deepwalk
from recall_service.train import train_item2vec
from recall_service.two_tower_train import train_two_tower


@dataclass(frozen=True)
class RecallTrainer:
    """`train` publishes a new version; `data` names the folder whose fingerprint a version
    records, so that a pipeline can tell when the model is stale."""

    train: Callable[[Settings, StarlingPaths], ModelManifest]
    data: Callable[[StarlingPaths], StoragePath]


def _sequences(paths: StarlingPaths) -> StoragePath:
    return paths.sequences


def _train_samples(paths: StarlingPaths) -> StoragePath:
    return paths.train_samples


TRAINERS: dict[str, RecallTrainer] = {
    "item2vec": RecallTrainer(train_item2vec, _sequences),
    "deepwalk": RecallTrainer(train_deepwalk, _sequences),
    "two_tower": RecallTrainer(train_two_tower, _train_samples),
}


def recall_trainer(name: str) -> RecallTrainer:
    """The trainer of recall model `name`; ModelNotFoundError names the known ones."""
    if name not in TRAINERS:
        raise ModelNotFoundError(f"no recall model {name!r}; known: {', '.join(TRAINERS)}")
    return TRAINERS[name]
