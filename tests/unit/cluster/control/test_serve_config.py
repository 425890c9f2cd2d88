"""The serve config file as deploys read it and as scale/promote write it, without Ray."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from ray.serve import Deployment

from cluster.app.build import serving_refs
from cluster.app.gateway import Gateway
from cluster.cli.main import main
from cluster.control.operations import ScaleError, promote, scale
from cluster.control.serve_config import (
    DEFAULT_CONFIG,
    UnknownDeploymentError,
    app_args,
    configured,
    declarative_config,
    load_serve_config,
    update_deployment,
)
from cluster.runtime.session import (
    MILVUS_PASSWORD_VARIABLE,
    MILVUS_TOKEN_VARIABLE,
    share_milvus_credentials,
)
from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import RankSettings, Settings
from rank_service.serving.deployment import Rank
from recall_service.serving.deployment import Recall
from rerank_service.deployment import Rerank


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A home whose registry holds item2vec v1 and mlp v1, v2, and a copy of the config."""
    registry = Registry(StarlingPaths(tmp_path).registry)
    for kind, name, metrics in (
        ("recall", "item2vec", {"hit_rate_at_50": 0.31}),
        ("rank", "mlp", {"roc_auc": 0.71}),
        ("rank", "mlp", {"roc_auc": 0.74}),
    ):
        registry.publish(
            kind,
            name,
            write=lambda folder: (folder / "model.bin").write_bytes(b"x"),
            metrics=metrics,
            data_snapshot="s",
        )
    copy = tmp_path / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    return Settings(
        home=tmp_path,
        serve_config=copy,
        redis_url="redis://10.0.0.5:6379/0",
        http_port=18123,
        rank=RankSettings(epochs=7),
    )


def _rank_entry(settings: Settings) -> dict:
    assert settings.serve_config is not None
    app = load_serve_config(settings.serve_config).app("starling")
    return app.deployment("Rank").model_dump(exclude_none=True)


def test_declarative_config_carries_settings_and_serving_versions(settings: Settings) -> None:
    refs = serving_refs(settings)
    assert refs["rank"] == ModelRef(kind="rank", name="mlp", version="v2")
    config = declarative_config(settings, "starling", {"Rank": {"name": "mlp", "version": "v2"}})
    assert config.http_options.port == 18123
    app = config.applications[0]
    # Replicas rebuild these Settings from args, so they see what this process resolved.
    rebuilt = Settings(**app.args)
    assert rebuilt.home == settings.home
    assert rebuilt.redis_url == settings.redis_url
    assert rebuilt.rank.epochs == 7
    assert rebuilt.serve_config == settings.serve_config
    rank = next(d for d in app.deployments if d.name == "Rank")
    assert rank.user_config == {"name": "mlp", "version": "v2"}
    assert rank.autoscaling_config == {"min_replicas": 1, "max_replicas": 1}


def test_requests_are_bounded_in_time_and_in_every_queue(settings: Settings) -> None:
    """An overloaded or hung app refuses or times out what it cannot serve instead of letting
    requests pile up without end (Serve's default queue and proxy timeout have no bound)."""
    config = declarative_config(settings, "starling", {})
    assert 0 < config.http_options.request_timeout_s <= 60
    queues = {d.name: d.max_queued_requests for d in config.applications[0].deployments}
    for name in ("Gateway", "Recall", "Rank", "Rerank"):
        assert 0 < queues[name] <= 1000, name


def test_scale_without_a_running_app_rewrites_only_that_deployment(settings: Settings) -> None:
    assert settings.serve_config is not None
    before = settings.serve_config.read_text()
    assert scale(settings, "Rank", num_replicas=3) is None
    after = settings.serve_config.read_text()
    assert after.startswith(before[: before.index("proxy_location")])  # the comment stays
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    old_rank, new_rank = (
        old["applications"][0]["deployments"][2],
        new["applications"][0]["deployments"][2],
    )
    assert new_rank["autoscaling_config"] == {"min_replicas": 3, "max_replicas": 3}
    old_rank.pop("autoscaling_config"), new_rank.pop("autoscaling_config")
    assert old == new
    scale(settings, "Rank", min_replicas=1, max_replicas=4)
    assert _rank_entry(settings)["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 4}


def test_scale_refuses_nonsense(settings: Settings) -> None:
    with pytest.raises(ScaleError):
        scale(settings, "Rank", min_replicas=3, max_replicas=2)
    with pytest.raises(ScaleError):
        scale(settings, "Rank", num_replicas=0)
    with pytest.raises(UnknownDeploymentError, match="Gateway, Recall, Rank, Rerank"):
        scale(settings, "Ranker", num_replicas=2)
    with pytest.raises(ScaleError, match="one writer"):
        scale(settings, "EventLander", max_replicas=2)


def test_promote_without_a_running_app_pins_the_version_for_the_next_deploy(
    settings: Settings,
) -> None:
    done = promote(settings, "rank", "mlp", "v1")
    assert not done.live
    assert done.previous == ModelRef(kind="rank", name="mlp", version="v2")
    assert serving_refs(settings)["rank"] == ModelRef(kind="rank", name="mlp", version="v1")
    assert _rank_entry(settings)["user_config"] == {"name": "mlp", "version": "v1"}
    with pytest.raises(ModelNotFoundError):
        promote(settings, "rank", "mlp", "v9")


def test_a_pinned_version_the_home_lacks_is_a_clear_error(settings: Settings) -> None:
    assert settings.serve_config is not None
    update_deployment(
        settings.serve_config, "starling", "Rank", {"user_config": {"name": "mlp", "version": "v9"}}
    )
    with pytest.raises(ModelNotFoundError, match=r"serve_config\.yaml"):
        serving_refs(settings)


def test_models_list_shows_every_version_its_metrics_and_what_serves(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STARLING_SERVE_CONFIG", str(settings.serve_config))
    assert main(["models", "list", "--home", str(settings.home)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {tuple(line[2:].split()[:3]): line for line in lines if "  " in line}
    assert (
        rows[("rank", "mlp", "v2")].startswith("*")
        and "roc_auc=0.74" in rows[("rank", "mlp", "v2")]
    )
    assert rows[("rank", "mlp", "v1")].startswith(" ")
    assert rows[("recall", "item2vec", "v1")].startswith("*")


def test_api_keys_never_travel_in_the_serve_config(tmp_path) -> None:
    settings = Settings(
        home=tmp_path, write_api_keys=["w-secret"], admin_api_keys=["a-secret"], max_k=50
    )
    args = app_args(settings)
    assert args["max_k"] == 50
    assert "write_api_keys" not in args and "admin_api_keys" not in args
    assert "secret" not in str(args)


@pytest.mark.parametrize(
    "redis_url",
    [
        "redis://:pw-8c1f@redis:6379/0",
        "redis://starling:pw-8c1f@redis:6379/0",
        "rediss://redis:6380/0?password=pw-8c1f",
    ],
)
def test_a_redis_password_never_travels_in_the_serve_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    """What a deploy hands Serve (and the dashboard shows) holds no Redis password; a replica
    still connects with it, from the environment it inherits (cluster/runtime/session.py)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings = Settings(_env_file=None, home=tmp_path)
    config = declarative_config(settings, "starling", {})
    assert "pw-8c1f" not in yaml.safe_dump(config.model_dump(mode="json"))
    replica = Settings(**config.applications[0].args)
    assert replica.resolved_redis_url() == redis_url


def test_a_redis_url_without_a_password_travels_to_the_replicas(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, home=tmp_path, redis_url="redis://redis:6379/0")
    assert app_args(settings)["redis_url"] == "redis://redis:6379/0"


@pytest.mark.parametrize(
    "credentials", [{"user": "starling", "password": "pw-5e2a"}, {"token": "starling:pw-5e2a"}]
)
def test_milvus_credentials_never_travel_in_the_serve_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str]
) -> None:
    """What a deploy hands Serve holds no Milvus password or token; a local Ray's replica still
    signs in with them, from the environment this process shares (cluster/runtime/session.py)."""
    for variable in (MILVUS_PASSWORD_VARIABLE, MILVUS_TOKEN_VARIABLE):
        # Set first so that monkeypatch removes what share_milvus_credentials puts there.
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    settings = Settings(
        _env_file=None, home=tmp_path, milvus_uri="http://milvus:19530", milvus=credentials
    )
    config = declarative_config(settings, "starling", {})
    assert "pw-5e2a" not in yaml.safe_dump(config.model_dump(mode="json"))
    assert "pw-5e2a" not in repr(settings)
    share_milvus_credentials(settings)
    replica = Settings(_env_file=None, **config.applications[0].args)
    token = replica.milvus.credentials()
    assert token is not None and token.get_secret_value() == "starling:pw-5e2a"


@pytest.mark.parametrize("deployment", [Gateway, Recall, Rank, Rerank])
def test_a_deployment_takes_its_options_from_the_file(
    settings: Settings, deployment: Deployment
) -> None:
    assert settings.serve_config is not None
    scale(settings, deployment.name, num_replicas=2)
    entry = load_serve_config(settings.serve_config).app("starling").deployment(deployment.name)
    wanted = {"name": "mlp", "version": "v1"}
    bound = configured(deployment, settings.serve_config, user_config=wanted)
    assert bound.max_ongoing_requests == entry.model_extra["max_ongoing_requests"]
    assert bound.ray_actor_options == entry.model_extra["ray_actor_options"]
    assert bound._deployment_config.autoscaling_config.max_replicas == 2
    assert bound.user_config == wanted
    # The decorator leaves them to the file: bare, a deployment has Serve's defaults.
    assert deployment.max_ongoing_requests != bound.max_ongoing_requests
