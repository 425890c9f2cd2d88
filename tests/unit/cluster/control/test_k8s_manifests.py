"""The KubeRay manifests hold together: the fields KubeRay reads, names, images, env and volumes."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import ray
import yaml
from ray.serve.schema import ServeDeploySchema

from cluster.cli.main import build_parser
from cluster.runtime.local_ray import TRAIN_POLL_S, TRAIN_POLL_VARIABLE
from cluster.runtime.session import WORKER_NICENESS_VARIABLE
from core.paths import StarlingPaths
from core.settings import Settings
from tests.support.k8s_manifests import K8S, ROOT, cluster_specs, documents, ray_groups

IMAGE = "starling:0.1.0"
GPU_IMAGE = f"{IMAGE}-cuda"
ENV_CONFIG_MAP = "starling-env"
RAY_ENV_CONFIG_MAP = "starling-ray-env"


DOCS = documents()
CONFIG = DOCS["ConfigMap", ENV_CONFIG_MAP]["data"]
# The passwords the tests put in Secrets starling-redis and starling-milvus.
REDIS_PASSWORD = "0123abcd"
MILVUS_PASSWORD = "4567efab"


def _cluster_specs() -> dict[str, dict[str, Any]]:
    return cluster_specs(DOCS)


def _groups(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return ray_groups(spec)


def _pod_environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's env as a pod would see it, with Secrets starling-redis and
    starling-milvus holding REDIS_PASSWORD and MILVUS_PASSWORD, and $(NAME) references expanded
    as Kubernetes does."""
    secrets = {
        ("starling-redis", "password"): REDIS_PASSWORD,
        ("starling-milvus", "password"): MILVUS_PASSWORD,
    }
    environment: dict[str, str] = {}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            environment[entry["name"]] = secrets[ref["name"], ref["key"]]
        else:
            value = entry["value"]
            for name, known in environment.items():
                value = value.replace(f"$({name})", known)
            environment[entry["name"]] = value
    return environment


def _ray_containers() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(cluster, group, pod spec, Ray container): KubeRay runs Ray in the first container."""
    return [
        (cluster, group, g["template"]["spec"], g["template"]["spec"]["containers"][0])
        for cluster, spec in _cluster_specs().items()
        for group, g in _groups(spec)
    ]


def _settings_env_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.update(choices if choices else [f"STARLING_{name.upper()}"])
    return names


def _command_name(args: argparse.Namespace) -> str:
    parts = (
        args.command,
        getattr(args, "data_command", None),
        getattr(args, "train_command", None),
    )
    return " ".join(part for part in parts if part)


def test_every_ray_resource_is_kuberay_v1_on_the_installed_ray() -> None:
    kinds = {kind for kind, _ in DOCS}
    assert {"RayCluster", "RayService", "RayJob"} <= kinds
    for (kind, name), doc in DOCS.items():
        if kind.startswith("Ray"):
            assert doc["apiVersion"] == "ray.io/v1", name
    for cluster, spec in _cluster_specs().items():
        assert spec["rayVersion"] == ray.__version__, cluster


def test_raycluster_autoscales_a_cpu_and_a_gpu_worker_group() -> None:
    spec = DOCS["RayCluster", "starling-batch"]["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    for group in groups.values():
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"], "autoscaling needs room to grow"
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == gpu["requests"]["nvidia.com/gpu"] == "1"
    assert groups["gpu"]["minReplicas"] == 0, "GPU pods only while something asks for a GPU"
    cpu = groups["cpu"]["template"]["spec"]["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in cpu["limits"]


def test_services_kuberay_creates_do_not_collide_with_each_other_or_ours() -> None:
    ours = [name for kind, name in DOCS if kind == "Service"]
    kuberay = [f"{name}-head-svc" for kind, name in DOCS if kind in ("RayCluster", "RayService")]
    kuberay += [f"{name}-serve-svc" for kind, name in DOCS if kind == "RayService"]
    assert len(set(ours + kuberay)) == len(ours + kuberay)


def test_ray_start_params_are_strings_as_kuberay_requires() -> None:
    for cluster, spec in _cluster_specs().items():
        for group, g in _groups(spec):
            params = g["rayStartParams"]
            assert all(isinstance(v, str) for v in params.values()), (cluster, group, params)
        assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"


def test_heads_expose_gcs_dashboard_client_and_serve_ports() -> None:
    for cluster, group, _, container in _ray_containers():
        if group != "head":
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"gcs": 6379, "dashboard": 8265, "client": 10001, "serve": 8000}, cluster


def test_every_ray_pod_runs_one_image_with_the_shared_env_and_home() -> None:
    claim = DOCS["PersistentVolumeClaim", "starling-home"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "written by one cluster, read by both"
    for cluster, group, pod, container in _ray_containers():
        where = f"{cluster}/{group}"
        wants_gpu = "nvidia.com/gpu" in container["resources"].get("limits", {})
        assert container["image"] == (GPU_IMAGE if wants_gpu else IMAGE), where
        assert {"configMapRef": {"name": ENV_CONFIG_MAP}} in container["envFrom"], where
        assert {"configMapRef": {"name": RAY_ENV_CONFIG_MAP}} in container["envFrom"], where
        # API keys come from a Secret, never from the Serve config or the ConfigMap.
        keys = {"secretRef": {"name": "starling-api-keys", "optional": True}}
        assert keys in container["envFrom"], where
        # Shared settings belong in the ConfigMap; only the serving pods name their RayService,
        # every Ray pod composes REDIS_URL with the password of Secret starling-redis, and signs
        # in to Milvus as root with the password of Secret starling-milvus.
        env = _pod_environment(container)
        expected = {
            "REDIS_PASSWORD": REDIS_PASSWORD,
            "REDIS_URL": f"redis://:{REDIS_PASSWORD}@redis:6379/0",
            "STARLING_MILVUS__USER": "root",
            "STARLING_MILVUS__PASSWORD": MILVUS_PASSWORD,
        }
        if cluster == "rayservice":
            expected["STARLING_KUBERAY__RAYSERVICE"] = "starling"
        assert env == expected, where
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        home = mounts[CONFIG["STARLING_HOME"]]
        assert volumes[home]["persistentVolumeClaim"]["claimName"] == "starling-home", where


def test_serving_workers_may_patch_the_rayservice_they_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Scaling from /ops on KubeRay patches the RayService from a Gateway replica, which runs on
    a serving worker: their service account must be bound to a role that can read and patch
    exactly that resource."""
    service = DOCS["RayService", "starling"]
    for cluster, group, pod, container in _ray_containers():
        if cluster != "rayservice" or group == "head":
            continue
        for name, value in _pod_environment(container).items():
            monkeypatch.setenv(name, value)
        assert Settings(_env_file=None).kuberay.rayservice == service["metadata"]["name"], group
        account = pod["serviceAccountName"]
        assert ("ServiceAccount", account) in DOCS, group
        bindings = [
            doc
            for (kind, _), doc in DOCS.items()
            if kind == "RoleBinding"
            and {"kind": "ServiceAccount", "name": account} in doc["subjects"]
        ]
        rules = [
            rule
            for binding in bindings
            for rule in DOCS["Role", binding["roleRef"]["name"]]["rules"]
            if "ray.io" in rule["apiGroups"] and "rayservices" in rule["resources"]
        ]
        assert any(
            {"get", "patch"} <= set(rule["verbs"])
            and service["metadata"]["name"] in rule.get("resourceNames", [])
            for rule in rules
        ), f"{group}: {account} may not get and patch the RayService"


def test_ray_pods_poll_train_workers_and_run_replicas_as_a_local_ray_does() -> None:
    ray_env = DOCS["ConfigMap", RAY_ENV_CONFIG_MAP]["data"]
    assert ray_env == {TRAIN_POLL_VARIABLE: TRAIN_POLL_S, WORKER_NICENESS_VARIABLE: "0"}
    assert Settings(_env_file=None).ray_worker_niceness == 0


def test_env_names_are_starling_settings_and_documented() -> None:
    documented = (ROOT / ".env.example").read_text()
    for name in CONFIG:
        assert name in _settings_env_names(), f"{name} is not a Settings environment key"
        assert re.search(rf"^#? ?{name}=", documented, re.MULTILINE), f"{name} not documented"


def test_pods_settings_reach_the_services_of_the_manifests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (_, _, _, container), *_ = _ray_containers()
    for name, value in {**CONFIG, **_pod_environment(container)}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.home == Path(CONFIG["STARLING_HOME"])
    assert urlparse(settings.resolved_redis_url()).password == REDIS_PASSWORD
    milvus_token = settings.milvus.credentials()
    assert milvus_token is not None
    assert milvus_token.get_secret_value() == f"root:{MILVUS_PASSWORD}"
    for url, service, port_name in (
        (settings.redis_url, "redis", "redis"),
        (settings.milvus_uri, "milvus", "grpc"),
    ):
        parsed = urlparse(url)
        ports = {p["name"]: p["port"] for p in DOCS["Service", service]["spec"]["ports"]}
        assert parsed.hostname == service and parsed.port == ports[port_name], url
        selector = DOCS["Service", service]["spec"]["selector"]
        workload = next(
            d
            for (kind, _), d in DOCS.items()
            if kind in ("Deployment", "StatefulSet")
            and d["spec"]["selector"]["matchLabels"] == selector
        )
        container_ports = {
            p["name"] for p in workload["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        assert port_name in container_ports, service


def test_rayservice_serves_the_starling_app_from_the_shared_home() -> None:
    spec = DOCS["RayService", "starling"]["spec"]
    assert isinstance(spec["serveConfigV2"], str), "KubeRay reads serveConfigV2 as a string"
    serve_config = yaml.safe_load(spec["serveConfigV2"])
    ServeDeploySchema.model_validate(serve_config)
    (app,) = serve_config["applications"]
    assert app["args"]["home"] == CONFIG["STARLING_HOME"]
    module, _, attribute = app["import_path"].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    http = serve_config["http_options"]
    assert http["host"] == "0.0.0.0"
    for cluster, group, _, container in _ray_containers():
        if cluster == "rayservice":
            serve_port = {p["name"]: p["containerPort"] for p in container["ports"]}["serve"]
            assert serve_port == http["port"], group
    assert spec["rayClusterConfig"]["enableInTreeAutoscaling"] is True


def test_rayjob_runs_ingest_features_and_training_on_the_raycluster() -> None:
    spec = DOCS["RayJob", "starling-train"]["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": "starling-batch"}
    assert ("RayCluster", "starling-batch") in DOCS
    parser = build_parser()
    steps = [shlex.split(step) for step in spec["entrypoint"].split("&&")]
    assert all(step[0] == "starling" for step in steps)
    parsed = [parser.parse_args(step[1:]) for step in steps]
    commands = [_command_name(args) for args in parsed]
    assert commands == ["data synth", "ingest", "features", "train recall", "train rank"]
    # `starling ingest` without --source reads what synth wrote: the home's synthetic folder.
    assert parsed[0].out == StarlingPaths(Path(CONFIG["STARLING_HOME"])).data_dir


def test_dockerfile_builds_the_image_the_manifests_expect() -> None:
    dockerfile = (K8S / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    torch_pin = re.search(r'"(torch==[^"]+)"', pyproject).group(1)
    assert f"pip install --no-cache-dir {torch_pin}" in dockerfile
    assert f"-t {IMAGE} ." in dockerfile and f"-t {GPU_IMAGE}" in dockerfile
    assert f"ENV STARLING_HOME={CONFIG['STARLING_HOME']}" in dockerfile
    assert "wget" in dockerfile, "KubeRay's exec probes call wget"
