import numpy as np
import pyarrow.parquet as pq
import pytest
from ray import serve

from cluster.control.serve_config import configured
from core.api import Candidate
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings, Settings, TrainSettings
from rank_service.serving.deployment import Rank
from rank_service.serving.scorer import Scorer
from rank_service.training.synthetic import synthetic_items, synthetic_samples
from rank_service.training.train import train_rank

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(ray_local, tmp_path_factory) -> tuple[Settings, StarlingPaths, ModelManifest]:
    """Samples with a learnable signal, trained with 2 Ray Train workers for 1 epoch."""
    home = tmp_path_factory.mktemp("starling")
    paths = StarlingPaths(home)
    items = synthetic_items(200)
    for folder, seed, rows in ((paths.train_samples, 0, 2000), (paths.test_samples, 1, 500)):
        folder.mkdir(parents=True)
        pq.write_table(synthetic_samples(items, rows=rows, seed=seed), folder / "part-0.parquet")
        (folder / "_manifest.json").write_text("{}")
    paths.item_features.mkdir(parents=True)
    pq.write_table(items, paths.item_features / "part-0.parquet")
    settings = Settings(
        home=home,
        train=TrainSettings(workers=2, cpus_per_worker=0.5),
        rank=RankSettings(epochs=1, batch_size=32, lr=1e-2),
    )
    return settings, paths, train_rank(settings, paths)


def test_training_publishes_a_version_that_learnt_the_signal(trained) -> None:
    _, paths, manifest = trained
    registry = Registry(paths.registry)
    assert registry.latest("rank", "mlp") == manifest
    assert manifest.version == "v1"
    assert manifest.metrics["roc_auc"] > 0.6
    assert {"pr_auc", "log_loss", "accuracy"} <= manifest.metrics.keys()
    # Early stopping watched the time-ordered validation tail; the random 80/20 protocol ran too.
    assert manifest.metrics["best_epoch"] == 1 and manifest.metrics["val_roc_auc"] > 0.6
    assert manifest.metrics["random_split_roc_auc"] > 0.6
    folder = registry.path(manifest.ref())
    assert {"model.pt", "encoder.json", "config.json", "manifest.json"} <= {
        p.name for p in folder.iterdir()
    }


def test_scorer_scores_candidates_of_known_and_unknown_users(trained) -> None:
    _, paths, manifest = trained
    scorer = Scorer.load(Registry(paths.registry), manifest.ref(), paths.item_features)
    known = UserProfile(
        user_id=5,
        user_rating_count=40,
        user_avg_rating=3.9,
        user_rating_stddev=0.8,
        user_avg_release_year=1990.0,
        user_release_year_stddev=9.0,
        user_genres=["Comedy", "Drama"],
        user_recent_items=[3, 4, 5],
    )
    candidates = list(range(1, 51))
    for profile, user_id in ((known, 5), (None, 123_456)):
        scores = scorer.score(profile, user_id, candidates)
        assert scores.shape == (50,)
        assert not np.isnan(scores).any()
        assert ((scores >= 0) & (scores <= 1)).all()


def test_rank_deployment_sorts_candidates_and_survives_a_bad_version(trained, redis_url) -> None:
    settings, _, manifest = trained
    settings = settings.model_copy(update={"redis_url": redis_url})
    OnlineStore(redis_url).publish_users(
        [UserProfile(user_id=5, user_rating_count=3, user_genres=["Comedy"])], seen={}
    )
    serve.start(proxy_location="Disabled", logging_config={"log_level": "WARNING"})
    try:
        app = configured(Rank, user_config={"name": "mlp", "version": manifest.version})
        handle = serve.run(app.bind(settings), name="rank_test", route_prefix=None)
        candidates = [Candidate(item_id=i, score=0.0, routes=[f"r{i % 3}"]) for i in range(1, 41)]
        result = handle.rank.remote(5, candidates).result()
        scores = result.candidates.scores
        assert scores == sorted(scores, reverse=True)
        assert all(c.routes == [f"r{c.item_id % 3}"] for c in result.candidates.as_list())
        assert result.trace.model == f"mlp:{manifest.version}"
        assert result.trace.detail["profile"] == "found"

        # What a user_config update does on a live replica (serve.run would start new ones).
        handle.reconfigure.remote({"name": "mlp", "version": "v99"}).result()
        again = handle.rank.remote(5, candidates).result()
        assert again.trace.model == f"mlp:{manifest.version}"
        assert again.candidates.item_ids == [c.item_id for c in result.candidates.as_list()]
    finally:
        serve.shutdown()
