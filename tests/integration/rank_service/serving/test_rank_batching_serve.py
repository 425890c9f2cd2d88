import pytest
from ray import serve
from ray.serve.handle import DeploymentHandle

from cluster.control.serve_config import configured
from core.api import Candidate, StageResult
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import RankServingSettings, Settings
from rank_service.serving.deployment import Rank
from rank_service.serving.stage import RankRequest, RankStage
from rank_service.training.synthetic import publish_fitted, synthetic_items, write_item_features

pytestmark = pytest.mark.integration

KNOWN_USERS = [1, 2, 3, 4]


@pytest.fixture(scope="module")
def rank_app(ray_local, redis_url, tmp_path_factory) -> tuple[DeploymentHandle, RankStage]:
    """A Rank deployment serving mlp v1 (deepfm v1 registered too) and the same stage in process.

    A long batch wait makes concurrent calls meet in one batch even on a busy machine.
    """
    paths = StarlingPaths(tmp_path_factory.mktemp("starling"))
    items = synthetic_items(300)
    write_item_features(paths, items)
    publish_fitted(paths, items, "mlp", seed=0)
    publish_fitted(paths, items, "deepfm", seed=1)
    store = OnlineStore(redis_url)
    store.publish_users(
        [
            UserProfile(user_id=u, user_rating_count=10 * u, user_genres=["Comedy"])
            for u in KNOWN_USERS
        ],
        seen={},
    )
    settings = Settings(
        home=paths.home,
        redis_url=redis_url,
        rank_serving=RankServingSettings(max_batch_size=8, batch_wait_ms=200.0),
    )
    local = RankStage(store, Registry(paths.registry), paths.item_features)
    local.reconfigure({"name": "mlp", "version": "v1"})
    serve.start(proxy_location="Disabled", logging_config={"log_level": "WARNING"})
    try:
        app = configured(Rank, user_config={"name": "mlp", "version": "v1"})
        yield serve.run(app.bind(settings), name="rank_batching", route_prefix=None), local
    finally:
        serve.shutdown()


def candidates(user_id: int) -> list[Candidate]:
    return [Candidate(item_id=(user_id * 37 + i) % 320, score=0.0) for i in range(60)]


def assert_same_scores(served: StageResult, alone: StageResult) -> None:
    expected = {c.item_id: c.score for c in alone.candidates.as_list()}
    assert served.candidates.item_ids == [c.item_id for c in alone.candidates.as_list()]
    assert all(
        c.score == pytest.approx(expected[c.item_id], abs=1e-6) for c in served.candidates.as_list()
    )


def test_concurrent_requests_are_batched_and_scored_as_if_alone(rank_app) -> None:
    handle, local = rank_app
    users = [*KNOWN_USERS, 500, 501, 502, 503]
    pending = [handle.rank.remote(u, candidates(u)) for u in users]
    results = [p.result() for p in pending]

    assert max(r.trace.detail["batch"] for r in results) > 1
    for user, result in zip(users, results, strict=True):
        assert result.trace.model == "mlp:v1"
        assert result.trace.detail["profile"] == ("found" if user in KNOWN_USERS else "cold")
        assert_same_scores(result, local.rank(user, candidates(user)))


def test_a_multiplexed_request_is_scored_by_the_model_it_names(rank_app) -> None:
    handle, local = rank_app
    deepfm = handle.options(multiplexed_model_id="deepfm/v1")
    pending = [
        (user, model_id, h.rank.remote(user, candidates(user)))
        for user in KNOWN_USERS
        for model_id, h in (("mlp/v1", handle), ("deepfm/v1", deepfm))
    ]
    scorers = {model_id: local.load(model_id) for model_id in ("mlp/v1", "deepfm/v1")}
    for user, model_id, response in pending:
        result = response.result()
        assert result.trace.model == model_id.replace("/", ":")
        request = RankRequest(user_id=user, candidates=candidates(user), model_id=model_id)
        assert_same_scores(result, local.rank_batch([request], scorers)[0])
    # The two models disagree, so matching each one's own scores identifies the model.
    mlp, deepfm_result = (p[2].result() for p in pending[:2])
    assert mlp.candidates.item_ids != [c.item_id for c in deepfm_result.candidates.as_list()]

    with pytest.raises(Exception, match="no rank model deepfm version v9"):
        handle.options(multiplexed_model_id="deepfm/v9").rank.remote(1, candidates(1)).result()
    assert handle.rank.remote(1, candidates(1)).result().trace.model == "mlp:v1"


def test_a_model_that_cannot_load_fails_alone(rank_app) -> None:
    """Requests for a model that does not load, sent with requests for the serving one, fail
    alone (Serve 2.60 also splits a batch by multiplexed model id before Rank sees it)."""
    handle, local = rank_app
    unloadable = handle.options(multiplexed_model_id="deepfm/v9")
    pending = [
        (user, h.rank.remote(user, candidates(user)))
        for user in KNOWN_USERS
        for h in (handle, unloadable)
    ]
    for user, response in pending[::2]:
        result = response.result()
        assert result.trace.model == "mlp:v1"
        assert_same_scores(result, local.rank(user, candidates(user)))
    for _, response in pending[1::2]:
        with pytest.raises(Exception, match="no rank model deepfm version v9"):
            response.result()
