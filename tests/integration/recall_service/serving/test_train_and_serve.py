import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ray import serve

from cluster.control.serve_config import configured
from core.api import SimilarItems, StageResult
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import Item2VecSettings, RecallSettings, Settings, TrainSettings
from core.tables import ITEM_FEATURES, SEQUENCES
from recall_service.index.files import ITEM_IDS, MILVUS_DB, VECTORS
from recall_service.index.replica import open_replica_index
from recall_service.serving.deployment import Recall
from recall_service.serving.recaller import Recaller
from recall_service.training.item2vec import train_item2vec

pytestmark = pytest.mark.integration

USER = 5
RECENT = [100, 101, 102]
SEEN = {100, 101, 102, 103, 120}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    home = tmp_path_factory.mktemp("home")
    store = OnlineStore(redis_url)
    store.publish_users(
        [UserProfile(user_id=USER, user_recent_items=RECENT)],
        {USER: [(item, 0) for item in sorted(SEEN)]},
    )
    store.publish_popularity({item: float(200 - item) for item in range(100, 160)})
    _write_sequences(StarlingPaths(home).sequences)
    _write_item_features(StarlingPaths(home).item_features)
    return Settings(
        home=home,
        redis_url=redis_url,
        train=TrainSettings(workers=2, cpus_per_worker=0.5),
        item2vec=Item2VecSettings(dim=8, window=2, epochs=1, batch_size=256, lr=0.05),
        recall=RecallSettings(
            embedding_quota=5, popular_quota=5, item_to_item_quota=5, genre_quota=0, recent_items=5
        ),
    )


def _write_sequences(folder: Path) -> None:
    """300 users, each liking 8 items of one of three 20-item groups (ids 100-159)."""
    rng = np.random.default_rng(0)
    items = [(100 + 20 * (u % 3) + rng.permutation(20)[:8]).tolist() for u in range(300)]
    folder.mkdir(parents=True)
    table = pa.table({"user_id": list(range(300)), "items": items}, schema=SEQUENCES)
    pq.write_table(table, folder / "part-0.parquet")
    (folder / "_manifest.json").write_text('{"step": "sequences", "inputs": {}}')


def _group(item: int) -> int:
    return (item - 100) // 20


def _write_item_features(folder: Path) -> None:
    """Each group's items share a genre ("G0", "G1", "G2"); odd items are from 2000 on."""
    items = list(range(100, 160))
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "item_id": items,
            "release_year": [1990 + 10 * (item % 2) for item in items],
            "item_genres": [[f"G{_group(item)}"] for item in items],
            "item_rating_count": [10] * len(items),
            "item_avg_rating": [4.0] * len(items),
            "item_rating_stddev": [0.5] * len(items),
            "item_popularity": [1.0] * len(items),
        },
        schema=ITEM_FEATURES,
    )
    pq.write_table(table, folder / "part-0.parquet")


@pytest.fixture(scope="module")
def trained(ray_local: None, settings: Settings) -> ModelManifest:
    return train_item2vec(settings, StarlingPaths(settings.home))


def test_training_on_two_workers_publishes_vectors_a_milvus_index_and_metrics(
    trained: ModelManifest, settings: Settings
) -> None:
    registry = Registry(StarlingPaths(settings.home).registry)
    assert registry.latest("recall", "item2vec") == trained
    folder = registry.path(trained.ref())
    assert (folder / MILVUS_DB).is_dir()
    vectors, ids = np.load(folder / VECTORS), np.load(folder / ITEM_IDS)
    assert vectors.shape == (60, 8) and sorted(ids.tolist()) == list(range(100, 160))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert trained.metrics["train_loss"] > 0
    assert 0 <= trained.metrics["hit_rate_at_50"] <= 1
    assert 0 <= trained.metrics["popular_hit_rate_at_50"] <= 1
    assert trained.metrics["eval_users"] == 300
    assert trained.params["epochs"] == 1


def test_recaller_on_the_trained_version_skips_seen_items_and_names_routes(
    trained: ModelManifest, settings: Settings
) -> None:
    replica = open_replica_index(settings, StarlingPaths(settings.home), trained.ref())
    try:
        recaller = Recaller(replica.index, OnlineStore(settings.redis_url), settings, replica.label)
        result = recaller.recall(USER)
        cold = recaller.recall(USER + 1000)
    finally:
        replica.close()

    items = result.candidates.item_ids
    assert items and not SEEN & set(items)
    assert len(items) == len(set(items))
    assert result.trace.detail["embedding"] == 5
    assert result.trace.detail["item_to_item"] == 5
    assert all(c.routes for c in result.candidates.as_list())
    assert any("embedding" in c.routes for c in result.candidates.as_list())
    # The item-to-item route searched Milvus once per seed and kept its quota of unseen items.
    assert sum("item_to_item" in c.routes for c in result.candidates.as_list()) == 5
    assert result.trace.model == "item2vec:v1"
    assert cold.candidates.item_ids == [100, 101, 102, 103, 104]
    assert all(c.routes == ["popular"] for c in cold.candidates.as_list())


def test_a_replica_searches_the_versions_vectors_in_memory_by_default_with_milvus_answers(
    trained: ModelManifest, settings: Settings
) -> None:
    paths = StarlingPaths(settings.home)
    through_milvus_settings = settings.model_copy(
        update={"recall": settings.recall.model_copy(update={"memory_search": False})}
    )
    through_milvus = open_replica_index(through_milvus_settings, paths, trained.ref())
    through_milvus.close()
    assert through_milvus.exact is None and through_milvus.searcher is through_milvus.index
    replica = open_replica_index(settings, paths, trained.ref())
    try:
        assert replica.exact is not None and replica.searcher is replica.exact
        version = Registry(paths.registry).path(trained.ref())
        items = np.load(version / ITEM_IDS)[:5].tolist()
        queries = np.stack([replica.index.vectors(items)[i] for i in items])
        in_memory = replica.searcher.search(queries, 20)
        milvus = replica.index.search(queries, 20)
    finally:
        replica.close()

    for mine, theirs in zip(in_memory, milvus, strict=True):
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], abs=1e-5)
        assert {item for item, _ in mine[:10]} == {item for item, _ in theirs[:10]}


def test_recall_deployment_serves_and_swaps_versions_without_leaving_copies(
    trained: ModelManifest, settings: Settings
) -> None:
    paths = StarlingPaths(settings.home)
    registry = Registry(paths.registry)
    source = registry.path(trained.ref())
    registry.publish(
        "recall",
        "item2vec",
        write=lambda folder: shutil.copytree(
            source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("LOCK")
        ),
        metrics=trained.metrics,
        data_snapshot=trained.data_snapshot,
    )
    serve.start(
        proxy_location="Disabled",
        logging_config={"enable_access_log": False, "log_level": "WARNING"},
    )

    app = configured(Recall, user_config={"name": "item2vec", "version": "v1"}).bind(settings)
    handle = serve.run(app, name="recall-test", route_prefix=None)

    def served_model() -> str | None:
        result = handle.recall.remote(USER).result(timeout_s=60)
        assert isinstance(result, StageResult)
        assert not SEEN & {c.item_id for c in result.candidates.as_list()}
        return result.trace.model

    def reconfigure(version: str) -> None:
        # What Serve calls on a user_config change; a Python serve.run would replace the
        # replica instead, so the method is called directly on the running replica.
        handle.reconfigure.remote({"name": "item2vec", "version": version}).result(timeout_s=60)

    def similar(item: int, **where: str | int) -> SimilarItems:
        return handle.similar.remote(item, 10, **where).result(timeout_s=60)

    try:
        nearest = similar(100)
        assert nearest.embedded and nearest.model == "item2vec:v1"
        assert len(nearest.items) == 10 and 100 not in {c.item_id for c in nearest.items}
        # Items liked by the same users end up near each other: a third would be chance.
        assert sum(_group(c.item_id) == 0 for c in nearest.items) >= 8
        other_genre = similar(100, genre="G1", min_year=2000)
        assert other_genre.items
        assert all(_group(c.item_id) == 1 and c.item_id % 2 for c in other_genre.items)
        assert not similar(999).embedded
        assert served_model() == "item2vec:v1"
        reconfigure("v9")
        assert served_model() == "item2vec:v1", "a missing version keeps the old one"
        reconfigure("v2")
        assert served_model() == "item2vec:v2"
        assert len(list((paths.runtime / "recall").iterdir())) == 1
    finally:
        serve.shutdown()
    assert list((paths.runtime / "recall").iterdir()) == []
