"""Starling on a split's training part: the whole offline pipeline (ingest, features, online
store, recall and rank training, all on defaults) in a home of its own, then /recommend replayed
in process for the test users with the online state as of the end of that part."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

from cluster.pipeline import StepReport, run_pipeline
from cluster.runtime.session import full_runtime
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from evaluation.cutoff_features import read_time_split
from evaluation.cutoff_store import CutoffStore
from evaluation.replay import recommend_lists

Rows = list[tuple[int, int, float, int]]
# Catalogue files copied beside the training ratings; tags.csv is left out: its rows carry
# times from the held-out period.
CATALOGUE_FILES = ("movies.csv", "links.csv")


def write_training_part(train: Rows, source: Path, folder: Path) -> Path:
    """The training ratings as a MovieLens CSV release in `folder`, beside the catalogue."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "ratings.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["userId", "movieId", "rating", "timestamp"])
        writer.writerows((u, i, f"{r:g}", t) for u, i, r, t in train)
    for name in CATALOGUE_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return folder


def starling_lists(
    train: Rows, source: Path, users: list[int], work: Path, redis_port: int, k: int = 50
) -> dict[int, list[int]]:
    """Each user's /recommend top-k from a Starling trained on `train` only. A `work` folder
    that already holds a trained home is replayed as it is (settings that change serving only,
    such as rerank weights or recall quotas, can then be tried in seconds)."""
    settings = Settings(home=work / "home", redis_port=redis_port)
    paths = StarlingPaths.of(settings)

    def report(step: StepReport) -> None:
        print(f"  starling {step.model_dump_json()}", flush=True)

    if not (
        Registry(paths.registry).serving("rank") and Registry(paths.registry).serving("recall")
    ):
        folder = write_training_part(train, source, work / "data")
        with full_runtime(settings):
            run_pipeline(settings, folder, report)
    end_of_data = max(t for _, _, _, t in train) * 1000 + 1
    split = read_time_split(paths.events, paths.items, end_of_data, settings.data)
    paths.runtime.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.runtime) as scratch:
        store = CutoffStore.publish(split.features, Path(scratch))
        lists = recommend_lists(settings, paths, store, users, k)
    return dict(zip(users, lists, strict=True))
