"""The whole pipeline with its storage root on a real S3 API (moto) against a local run."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from cluster.pipeline import StepReport, run_pipeline
from core.filesystem import RemotePath, StorageOptions
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import (
    DataSettings,
    Item2VecSettings,
    RankSettings,
    Settings,
    TrainSettings,
)
from core.storage import POINTER, parquet_dataset, read_manifest
from ingest.job import ingest_source
from ingest.synth import SynthConfig, generate
from rank_service.scorer import Scorer
from recall_service.exact_index import ExactIndex
from tests.support.s3 import BUCKET

pytestmark = pytest.mark.integration


def _settings(home: Path, redis_url: str, s3: StorageOptions | None) -> Settings:
    storage = {}
    if s3 is not None:
        storage = {
            "storage_uri": f"s3://{BUCKET}/starling",
            "storage_endpoint": s3.endpoint,
            "storage_region": s3.region,
            "storage_access_key": s3.access_key,
            "storage_secret_key": s3.secret_key,
        }
    return Settings(
        home=home,
        redis_url=redis_url,
        recall_model="item2vec",
        item2vec=Item2VecSettings(dim=8, epochs=1),
        rank=RankSettings(epochs=1, batch_size=256, hidden=[16]),
        train=TrainSettings(workers=1, cpus_per_worker=0.5),
        data=DataSettings(test_fraction=0.2),
        **storage,
    )


@pytest.fixture(scope="module")
def runs(
    ray_local: None,
    redis_url: str,
    s3_options: StorageOptions,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Settings, list[StepReport]]]:
    """The same small synthetic set through the whole pipeline into s3://bucket/starling, and
    through ingest into a local home (the features job is left out there: it is the slow part,
    and samples are checked against the local lake's ratings)."""
    data = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(users=80, items=60, ratings=3000, seed=5, start_year=2018), data)
    local = _settings(tmp_path_factory.mktemp("local"), redis_url, None)
    ingest_source(local, StarlingPaths.of(local), data)
    remote = _settings(tmp_path_factory.mktemp("s3"), redis_url, s3_options)
    steps: list[StepReport] = []
    run_pipeline(remote, data, steps.append)
    return {"local": (local, []), "s3": (remote, steps)}


def test_every_output_lands_in_the_bucket_with_the_local_row_counts(runs) -> None:
    local = StarlingPaths.of(runs["local"][0])
    remote = StarlingPaths.of(runs["s3"][0])
    assert isinstance(remote.events, RemotePath)
    assert (remote.events / POINTER).is_file()
    for output in ("events", "items"):
        here, there = read_manifest(getattr(local, output)), read_manifest(getattr(remote, output))
        assert here is not None and there is not None, output
        assert there.rows == here.rows, output
    ratings = parquet_dataset(local.events).count_rows(filter=pc.field("event_type") == "rating")
    samples = [read_manifest(f) for f in (remote.train_samples, remote.test_samples)]
    assert sum(m.rows["rows"] for m in samples if m is not None) == ratings > 2000
    for folder in (remote.user_features, remote.item_features, remote.sequences):
        manifest = read_manifest(folder)
        assert manifest is not None and manifest.rows["rows"] > 0, folder
    # The local home of the S3 run keeps only scratch: nothing shared was written there.
    home = runs["s3"][0].home
    assert not any((home / name).exists() for name in ("lake", "features", "samples", "registry"))


def test_models_published_to_the_s3_registry_load_and_score(runs) -> None:
    settings, steps = runs["s3"]
    assert all(s.ran for s in steps), steps
    paths = StarlingPaths.of(settings)
    registry = Registry(paths.registry, cache=settings.home / "runtime" / "registry")
    rank = registry.latest("rank", "mlp")
    recall = registry.latest("recall", "item2vec")
    assert rank is not None and rank.version == "v1"
    assert recall is not None and recall.version == "v1"
    scorer = Scorer.load(registry, rank.ref(), paths.item_features)
    scores = scorer.score(None, 1, list(range(1, 31)))
    assert scores.shape == (30,) and ((scores >= 0) & (scores <= 1)).all()
    vectors = ExactIndex.load(registry.path(recall.ref()))
    assert len(vectors.ids) == recall.metrics["items"] > 0
