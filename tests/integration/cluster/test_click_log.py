"""A log of clicks and views only (no ratings), beside a MovieLens catalogue, through
`starling up`'s pipeline: ingest, features, online publish, recall and rank training; its
replay of /recommend beats the most-clicked list, and a second `up` on that home serves its
lake instead of mixing the synthetic set into it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from cluster.pipeline import StepReport, run_pipeline
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import ItemBagSettings, RankSettings, Settings, TrainSettings
from core.storage import read_manifest
from evaluation.cutoff_store import CutoffStore
from evaluation.recall.run import MOST_POPULAR, RECOMMEND, evaluate_recall
from evaluation.replay import recommend_lists
from ingest.lake.versions import count_rows
from ingest.synth.generate import SynthConfig, generate

pytestmark = pytest.mark.integration


def _click_log(ratings_csv: Path, out: Path) -> int:
    """ratings.csv as a log of what the same users did on a site without stars: a rating of 4
    or more was a click, 3 to 4 a view, anything lower left no trace. Returns the rows."""
    rows = 0
    with ratings_csv.open() as src, (out / "clicks.csv").open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["user", "item", "ts", "type"])
        for row in csv.DictReader(src):
            rating = float(row["rating"])
            if rating >= 3.0:
                kind = "click" if rating >= 4.0 else "view"
                writer.writerow([row["userId"], row["movieId"], row["timestamp"], kind])
                rows += 1
    return rows


@pytest.fixture(scope="module")
def clicks_home(
    ray_local: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, int, list[StepReport]]:
    data = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(users=200, items=200, ratings=12_000, seed=11), data)
    log = tmp_path_factory.mktemp("clicks")
    logged = _click_log(data / "ratings.csv", log)
    shutil.copy(data / "movies.csv", log / "movies.csv")
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        redis_url=redis_url,
        rank=RankSettings(epochs=1, batch_size=256, hidden=[16]),
        item_bag=ItemBagSettings(epochs=10),
        train=TrainSettings(workers=1, cpus_per_worker=0.5),
    )
    steps: list[StepReport] = []
    run_pipeline(settings, log, steps.append)
    return settings, logged, steps


def test_a_click_log_becomes_samples_and_models(
    clicks_home: tuple[Settings, int, list[StepReport]],
) -> None:
    settings, logged, _ = clicks_home
    paths = StarlingPaths.of(settings)
    assert count_rows(paths.events) == logged
    items = read_manifest(paths.items)
    assert items is not None and items.rows["items"] == 200
    train = read_manifest(paths.train_samples)
    assert train is not None and train.rows["rows"] > logged // 2
    registry = Registry(paths.registry)
    assert registry.serving("rank") is not None and registry.serving("recall") is not None


def test_its_recommendations_beat_the_most_clicked_list(
    clicks_home: tuple[Settings, int, list[StepReport]],
) -> None:
    settings, _, _ = clicks_home
    paths = StarlingPaths.of(settings)

    def replay(store: CutoffStore, users: list[int], k: int) -> list[list[int]]:
        return recommend_lists(settings, paths, store, users, k)

    evaluation = evaluate_recall(settings, paths, pipeline=replay, split="per-user")
    scores = {m.name: m.metrics["recall@50"] for m in evaluation.methods}
    assert scores[RECOMMEND] > scores[MOST_POPULAR] > 0, scores


def test_up_on_that_home_serves_its_lake_without_the_synthetic_set(
    clicks_home: tuple[Settings, int, list[StepReport]],
) -> None:
    settings, logged, _ = clicks_home
    steps: list[StepReport] = []
    run_pipeline(settings, None, steps.append)
    paths = StarlingPaths.of(settings)
    assert count_rows(paths.events) == logged
    assert not (paths.data_dir / "ratings.csv").exists()
    synth = next(s for s in steps if s.step == "synth")
    assert "of its own sources" in synth.detail
    assert all(s.step != "ingest" for s in steps)
