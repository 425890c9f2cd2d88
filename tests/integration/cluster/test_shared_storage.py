"""Ingest, features, rank training and model publishing with the storage root on a real S3
API (moto), checked against a local run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from core.filesystem import RemotePath, StorageOptions
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings, Settings, TrainSettings
from core.storage import POINTER, fingerprint, parquet_dataset, read_manifest
from ingest.features.job import build_features
from ingest.lake.job import ingest_source
from ingest.synth.generate import SynthConfig, generate
from rank_service.serving.scorer import Scorer
from rank_service.training.train import train_rank
from recall_service.index.exact import ExactIndex
from recall_service.training.publish import publish_item_vectors
from recall_service.training.sequences import read_sequences
from tests.support.s3 import BUCKET

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Runs:
    local: StarlingPaths
    remote: StarlingPaths
    remote_home: Path
    rank: ModelManifest
    recall: ModelManifest


def _settings(home: Path, s3: StorageOptions | None) -> Settings:
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
        rank=RankSettings(epochs=1, batch_size=256, hidden=[16]),
        train=TrainSettings(workers=1, cpus_per_worker=0.5),
        **storage,
    )


@pytest.fixture(scope="module")
def runs(
    ray_local: None, s3_options: StorageOptions, tmp_path_factory: pytest.TempPathFactory
) -> Runs:
    """One small synthetic set ingested into a local home and into s3://bucket/starling; on
    S3 also the features job, a rank model trained with Ray Train from the S3 samples, and a
    recall version (vectors of the S3 sequences' items; training it is left out for time)."""
    data = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(users=80, items=60, ratings=3000, seed=5, start_year=2018), data)
    local = _settings(tmp_path_factory.mktemp("local"), None)
    ingest_source(local, StarlingPaths.of(local), data)
    remote = _settings(tmp_path_factory.mktemp("s3"), s3_options)
    paths = StarlingPaths.of(remote)
    ingest_source(remote, paths, data)
    build_features(remote, paths)
    rank = train_rank(remote, paths)
    items = np.unique(read_sequences(paths.sequences).items)
    vectors = np.random.default_rng(0).normal(size=(len(items), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    recall = publish_item_vectors(
        paths, "item2vec", items, vectors, {}, fingerprint(paths.sequences), {}
    )
    return Runs(StarlingPaths.of(local), paths, remote.home, rank, recall)


def test_every_output_lands_in_the_bucket_with_the_local_row_counts(runs: Runs) -> None:
    assert isinstance(runs.remote.events, RemotePath)
    assert (runs.remote.events / POINTER).is_file()
    for output in ("events", "items"):
        here = read_manifest(getattr(runs.local, output))
        there = read_manifest(getattr(runs.remote, output))
        assert here is not None and there is not None, output
        assert there.rows == here.rows, output
    ratings = parquet_dataset(runs.local.events).count_rows(
        filter=pc.field("event_type") == "rating"
    )
    samples = [read_manifest(f) for f in (runs.remote.train_samples, runs.remote.test_samples)]
    rated = sum(m.rows["rows"] - m.rows["negatives"] for m in samples if m is not None)
    assert rated == ratings > 2000
    for folder in (runs.remote.user_features, runs.remote.item_features, runs.remote.sequences):
        manifest = read_manifest(folder)
        assert manifest is not None and manifest.rows["rows"] > 0, folder
    # The local home of the S3 run keeps only scratch: nothing shared was written there.
    shared = ("lake", "features", "samples", "registry")
    assert not any((runs.remote_home / name).exists() for name in shared)


def test_models_published_to_the_s3_registry_load_and_score(runs: Runs, tmp_path: Path) -> None:
    registry = Registry(runs.remote.registry, cache=tmp_path)
    assert registry.latest("rank", "mlp") == runs.rank
    assert registry.latest("recall", "item2vec") == runs.recall
    scorer = Scorer.load(registry, runs.rank.ref(), runs.remote.item_features)
    scores = scorer.score(None, 1, list(range(1, 31)))
    assert scores.shape == (30,) and ((scores >= 0) & (scores <= 1)).all()
    index = ExactIndex.load(registry.path(runs.recall.ref()))
    assert set(index.ids.tolist()) == set(read_sequences(runs.remote.sequences).items.tolist())
