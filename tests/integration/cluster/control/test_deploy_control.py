"""The declaratively deployed app: promotion and scaling while requests flow, and a version that
fails to load refused while the old one keeps serving."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from ray import serve

from cluster.control.deploy import deploy
from cluster.control.operations import PromotionRefusedError, app_status, promote, scale
from cluster.control.serve_config import DEFAULT_CONFIG, load_serve_config
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings
from tests.integration.conftest import free_port
from tests.support.recommend_load import Load
from tests.support.trained_home import SMALL_HOME, add_identical_rank_version, fill_small_home

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(ray_local: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small home with trained recall and rank models, rank mlp v1 and an identical v2, and a
    copy of the serve config that the tests may change."""
    home = tmp_path_factory.mktemp("home")
    serve_config = home / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, serve_config)
    settings = Settings(
        **SMALL_HOME,
        home=home,
        redis_url=redis_url,
        http_port=free_port(),
        serve_config=serve_config,
        # Only a failure, not a slow answer on a busy 2-core machine, may degrade a request.
        stage_timeout_s=30.0,
    )
    fill_small_home(settings, tmp_path_factory)
    add_identical_rank_version(settings)
    return settings


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    yield deploy(settings)
    serve.shutdown()


def _rank_actors() -> set[tuple[str | None, int | None]]:
    return {(r.actor_id, r.pid) for r in app_status().deployments["Rank"].replicas}


def _file_entry(settings: Settings, name: str) -> dict:
    assert settings.serve_config is not None
    return load_serve_config(settings.serve_config).app("starling").deployment(name).model_dump()


def test_promotion_swaps_the_rank_model_in_place_while_requests_flow(
    settings: Settings, url: str
) -> None:
    actors = _rank_actors()
    with Load(url) as load:
        done = promote(settings, "rank", "mlp", "v2")
        load.wait_for(len(load.answers) + 10)
    assert done.live and done.previous == ModelRef(kind="rank", name="mlp", version="v1")
    assert load.failures() == []
    served = [a[1] for a in load.answers]
    assert served[0] == "mlp:v1" and served[-1] == "mlp:v2"
    # The same replica actors (same processes) serve before and after: nothing restarted.
    assert _rank_actors() == actors
    registry = Registry(StarlingPaths(settings.home).registry)
    assert registry.serving("rank") == ModelRef(kind="rank", name="mlp", version="v2")
    assert _file_entry(settings, "Rank")["user_config"] == {"name": "mlp", "version": "v2"}


def test_a_version_that_fails_to_load_is_refused_and_the_old_one_keeps_serving(
    settings: Settings, url: str
) -> None:
    registry = Registry(StarlingPaths(settings.home).registry)
    broken = registry.publish(
        "rank",
        "mlp",
        write=lambda folder: (folder / "model.pt").write_bytes(b"not a model"),
        metrics={},
        data_snapshot="none",
    )
    with Load(url) as load, pytest.raises(PromotionRefusedError, match="still serve mlp:v2"):
        promote(settings, "rank", "mlp", broken.version)
    assert load.failures() == []
    assert {a[1] for a in load.answers} == {"mlp:v2"}
    assert registry.serving("rank") == ModelRef(kind="rank", name="mlp", version="v2")
    assert _file_entry(settings, "Rank")["user_config"] == {"name": "mlp", "version": "v2"}
    assert app_status().deployments["Rank"].user_config == {"name": "mlp", "version": "v2"}


def test_scaling_rank_from_one_to_two_replicas_drops_no_request(
    settings: Settings, url: str
) -> None:
    actors = _rank_actors()
    with Load(url) as load:
        status = scale(settings, "Rank", num_replicas=2)
        load.wait_for(len(load.answers) + 10)
    assert status is not None
    rank = status.deployments["Rank"]
    assert rank.running_replicas == rank.target_replicas == 2
    assert actors < _rank_actors()
    assert load.failures() == []
    bounds = _file_entry(settings, "Rank")["autoscaling_config"]
    assert (bounds["min_replicas"], bounds["max_replicas"]) == (2, 2)
