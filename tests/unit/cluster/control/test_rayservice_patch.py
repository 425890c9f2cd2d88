"""On KubeRay a change from the ops page becomes a new serveConfigV2 for the RayService."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml
from ray.serve.schema import ServeDeploySchema

from cluster.control.rayservice_patch import RayServiceApi, patched_serve_config
from cluster.names import APP_NAME
from core.settings import KubeRaySettings

MANIFEST = Path(__file__).parents[4] / "k8s" / "rayservice.yaml"


def _serve_config() -> str:
    return yaml.safe_load(MANIFEST.read_text())["spec"]["serveConfigV2"]


def _deployments(text: str) -> dict[str, dict]:
    document = yaml.safe_load(text)
    app = next(a for a in document["applications"] if a["name"] == APP_NAME)
    return {d["name"]: d for d in app["deployments"]}


def test_scaling_rank_changes_only_ranks_bounds_and_stays_a_valid_serve_config() -> None:
    before = _serve_config()
    bounds = {"min_replicas": 2, "max_replicas": 3}
    after = patched_serve_config(before, APP_NAME, "Rank", {"autoscaling_config": bounds})

    ServeDeploySchema.model_validate(yaml.safe_load(after))
    old, new = _deployments(before), _deployments(after)
    assert new["Rank"]["autoscaling_config"] == bounds
    assert {k: v for k, v in new.items() if k != "Rank"} == {
        k: v for k, v in old.items() if k != "Rank"
    }
    rest = {k: v for k, v in yaml.safe_load(after).items() if k != "applications"}
    assert rest == {k: v for k, v in yaml.safe_load(before).items() if k != "applications"}


def test_promotion_sets_the_user_config_the_replicas_reconfigure_from() -> None:
    wanted = {"name": "deepfm", "version": "v2"}
    after = patched_serve_config(_serve_config(), APP_NAME, "Rank", {"user_config": wanted})
    assert _deployments(after)["Rank"]["user_config"] == wanted


def test_the_api_url_names_the_pods_namespace_and_the_rayservice(tmp_path: Path) -> None:
    (tmp_path / "namespace").write_text("recsys\n")
    settings = KubeRaySettings(rayservice="starling", service_account_dir=tmp_path)
    with httpx.Client() as client:
        api = RayServiceApi(settings, client=client)
    assert api.url == (
        "https://kubernetes.default.svc/apis/ray.io/v1/namespaces/recsys/rayservices/starling"
    )
    explicit = settings.model_copy(update={"namespace": "prod"})
    with httpx.Client() as client:
        assert "/namespaces/prod/" in RayServiceApi(explicit, client=client).url
