from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ray import serve

from cluster.control.serve_config import configured
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RecallSettings, Settings, TrainSettings, TwoTowerSettings
from recall_service.index.files import ITEM_IDS, MILVUS_DB, VECTORS
from recall_service.serving.deployment import Recall
from recall_service.training.two_tower import train_two_tower

pytestmark = pytest.mark.integration

GENRES = ["Comedy", "Horror", "Drama"]
USER = 7
COMEDIES = [100, 101, 102]
HORROR = [120, 121, 122]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    home = tmp_path_factory.mktemp("home")
    store = OnlineStore(redis_url)
    store.publish_users(
        [UserProfile(user_id=USER, user_recent_items=COMEDIES, user_genres=["Comedy"])],
        {USER: [(item, 0) for item in COMEDIES]},
    )
    store.publish_popularity({item: float(200 - item) for item in range(100, 160)})
    _write_samples(StarlingPaths(home).train_samples)
    return Settings(
        home=home,
        redis_url=redis_url,
        train=TrainSettings(workers=2, cpus_per_worker=0.5),
        two_tower=TwoTowerSettings(dim=8, hidden=16, epochs=1, batch_size=128, lr=0.02),
        recall=RecallSettings(
            embedding_quota=5, popular_quota=0, item_to_item_quota=0, genre_quota=0
        ),
    )


_SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("label", pa.int8()),
        ("user_recent_items", pa.list_(pa.int64())),
        ("user_genres", pa.list_(pa.string())),
        ("user_rating_count", pa.int64()),
        ("item_id", pa.int64()),
        ("item_genres", pa.list_(pa.string())),
        ("release_year", pa.int32()),
    ]
)


def _write_samples(folder: Path) -> None:
    """Positive samples of 200 users, each liking 8 items of one of three 20-item groups
    (ids 100-159, one genre each) in turn, with the recent items each one had before."""
    rng = np.random.default_rng(0)
    columns: dict[str, list[object]] = {name: [] for name in _SCHEMA.names}
    for user in range(200):
        group = user % 3
        items = (100 + 20 * group + rng.permutation(20)[:8]).tolist()
        for position, item in enumerate(items):
            columns["user_id"].append(user)
            columns["ts"].append(1_000_000 * user + position)
            columns["label"].append(1)
            columns["user_recent_items"].append(items[:position][::-1][:5])
            columns["user_genres"].append([GENRES[group]] if position else [])
            columns["user_rating_count"].append(position)
            columns["item_id"].append(item)
            columns["item_genres"].append([GENRES[group]])
            columns["release_year"].append(1980 + item % 30)
    folder.mkdir(parents=True)
    pq.write_table(pa.table(columns, schema=_SCHEMA), folder / "part-0.parquet")


@pytest.fixture(scope="module")
def trained(ray_local: None, settings: Settings) -> ModelManifest:
    return train_two_tower(settings, StarlingPaths(settings.home))


def test_two_workers_train_and_register_item_vectors_the_user_tower_and_metrics(
    trained: ModelManifest, settings: Settings
) -> None:
    registry = Registry(StarlingPaths(settings.home).registry)
    assert registry.latest("recall", "two_tower") == trained
    folder = registry.path(trained.ref())
    assert (folder / MILVUS_DB).is_dir() and (folder / "two_tower.pt").is_file()
    vectors, ids = np.load(folder / VECTORS), np.load(folder / ITEM_IDS)
    assert vectors.shape == (60, 8) and sorted(ids.tolist()) == list(range(100, 160))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert trained.params["metric"] == "cosine" and trained.params["epochs"] == 1
    assert trained.metrics["train_loss"] > 0
    assert trained.metrics["eval_users"] == 200
    assert 0 <= trained.metrics["hit_rate_at_50"] <= 1


def test_the_recall_deployment_embeds_the_user_from_their_latest_online_profile(
    trained: ModelManifest, settings: Settings
) -> None:
    serve.start(
        proxy_location="Disabled",
        logging_config={"enable_access_log": False, "log_level": "WARNING"},
    )
    app = configured(Recall, user_config={"name": "two_tower", "version": "v1"}).bind(settings)
    handle = serve.run(app, name="two-tower-test", route_prefix=None)
    store = OnlineStore(settings.resolved_redis_url())

    def embedding_candidates() -> list[int]:
        result = handle.recall.remote(USER).result(timeout_s=60)
        assert result.trace.model == "two_tower:v1"
        assert all(c.routes == ["embedding"] for c in result.candidates.as_list())
        return result.candidates.item_ids

    try:
        before = embedding_candidates()
        store.publish_users(
            [UserProfile(user_id=USER, user_recent_items=HORROR, user_genres=["Horror"])],
            {USER: [(item, 0) for item in COMEDIES + HORROR]},
        )
        after = embedding_candidates()
    finally:
        serve.shutdown()

    assert len(before) == 5 and not set(before) & set(COMEDIES)
    assert len(after) == 5 and not set(after) & set(COMEDIES + HORROR)
    assert before != after, "new recent items move the user's vector"
