"""What k8s/ guarantees about security: who runs as what, who reaches Redis and Milvus, what is
exposed, and which pods hold a Kubernetes API token."""

from __future__ import annotations

import re
from typing import Any

import yaml

from cluster.control.serve_config import DEFAULT_CONFIG
from tests.support.k8s_manifests import K8S, cluster_specs, documents, pod_templates, ray_groups

DOCS = documents()
TEMPLATES = pod_templates(DOCS)
RAY_LABEL = {"app.kubernetes.io/component": "ray"}
RAY_UID = 1000
# Milvus runs as root: its image ships root-owned binaries and configs (k8s/milvus.yaml).
ROOT_ALLOWED = {"StatefulSet/milvus"}
REDIS_SECRET = {"name": "starling-redis", "key": "password"}
MILVUS_SECRET = {"name": "starling-milvus", "key": "password"}
PATCHING_ACCOUNT = "starling-serve"


def _is_ray_pod(where: str) -> bool:
    return where.startswith(("raycluster/", "rayservice/"))


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [found for value in node.values() for found in _walk(value)]
    if isinstance(node, list):
        return [found for value in node for found in _walk(value)]
    return []


def test_every_pod_runs_unprivileged_under_the_runtime_s_seccomp_profile() -> None:
    # Every pod spec of the manifests is one of the templates checked here.
    pod_specs = [node for doc in DOCS.values() for node in _walk(doc) if "containers" in node]
    assert len(pod_specs) == len(TEMPLATES), sorted(TEMPLATES)
    for where, template in TEMPLATES.items():
        pod = template["spec"]["securityContext"]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["runAsNonRoot"] is (where not in ROOT_ALLOWED), where
        for container in template["spec"]["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["readOnlyRootFilesystem"] is (where not in ROOT_ALLOWED), where
    for cluster, spec in cluster_specs(DOCS).items():
        autoscaler = spec["autoscalerOptions"]["securityContext"]
        assert autoscaler["allowPrivilegeEscalation"] is False, cluster
        assert autoscaler["capabilities"] == {"drop": ["ALL"]}, cluster


def test_ray_pods_run_as_the_image_s_user_with_writable_tmp_and_home() -> None:
    dockerfile = (K8S / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users == [f"{RAY_UID}:{RAY_UID}"], "numeric, so that runAsNonRoot can check it"
    assert f"--uid {RAY_UID}" in dockerfile and "--home-dir /home/ray" in dockerfile
    for where, template in TEMPLATES.items():
        if not (_is_ray_pod(where) or where.startswith("RayJob/")):
            continue
        spec = template["spec"]
        assert spec["securityContext"]["runAsUser"] == RAY_UID, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
        for path in ("/tmp", "/home/ray"):
            assert "emptyDir" in volumes[mounts[path]], f"{where}: Ray writes {path}"


def test_only_ray_pods_may_reach_redis_and_milvus() -> None:
    policies = [doc for (kind, _), doc in DOCS.items() if kind == "NetworkPolicy"]
    guarded = {("Deployment", "redis"): 6379, ("StatefulSet", "milvus"): 19530}
    for workload, port in guarded.items():
        labels = DOCS[workload]["spec"]["template"]["metadata"]["labels"]
        selecting = [
            p
            for p in policies
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            and "Ingress" in p["spec"]["policyTypes"]
        ]
        assert selecting, f"no NetworkPolicy selects {workload}"
        for policy in selecting:
            for rule in policy["spec"]["ingress"]:
                assert rule["from"] == [{"podSelector": {"matchLabels": RAY_LABEL}}], workload
                assert rule["ports"] == [{"protocol": "TCP", "port": port}], workload
    for where, template in TEMPLATES.items():
        labels = template["metadata"]["labels"]
        assert (labels.items() >= RAY_LABEL.items()) is _is_ray_pod(where), where


def test_redis_asks_for_the_secret_s_password_and_ray_pods_send_it() -> None:
    redis = DOCS["Deployment", "redis"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in redis["env"]}
    assert env["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == REDIS_SECRET
    started = " ".join(redis["command"])
    assert "requirepass" in started and "$REDISCLI_AUTH" in started
    assert "REDIS_URL" not in DOCS["ConfigMap", "starling-env"]["data"]
    for where, template in TEMPLATES.items():
        if _is_ray_pod(where):
            ray_env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
            assert ray_env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == REDIS_SECRET, where
            assert "$(REDIS_PASSWORD)@redis:" in ray_env["REDIS_URL"]["value"], where


def test_milvus_asks_for_the_secret_s_root_password_and_ray_pods_send_it() -> None:
    milvus = DOCS["StatefulSet", "milvus"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in milvus["env"]}
    # Milvus reads common.security.* of its config from these variables.
    assert env["COMMON_SECURITY_AUTHORIZATIONENABLED"]["value"] == "true"
    assert env["COMMON_SECURITY_DEFAULTROOTPASSWORD"]["valueFrom"]["secretKeyRef"] == MILVUS_SECRET
    config = DOCS["ConfigMap", "starling-env"]["data"]
    assert not [name for name in config if name.startswith("STARLING_MILVUS__")]
    for where, template in TEMPLATES.items():
        if _is_ray_pod(where):
            ray_env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
            assert ray_env["STARLING_MILVUS__USER"]["value"] == "root", where
            secret = ray_env["STARLING_MILVUS__PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert secret == MILVUS_SECRET, where


def test_nothing_is_exposed_outside_the_cluster_and_ray_asks_for_its_token() -> None:
    for (kind, name), doc in DOCS.items():
        if kind == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP", name
        for node in _walk(doc):
            for key in ("type", "serviceType"):
                assert node.get(key) not in ("NodePort", "LoadBalancer"), (kind, name)
            assert "hostPort" not in node and node.get("hostNetwork") is not True, (kind, name)
    for cluster, spec in cluster_specs(DOCS).items():
        assert spec["headGroupSpec"]["serviceType"] == "ClusterIP", cluster
        # KubeRay makes a token Secret and gives it to every Ray container; the dashboard and
        # the Ray Client refuse requests without it.
        assert spec["authOptions"] == {"mode": "token"}, cluster


def test_only_the_serving_workers_hold_the_rayservice_patching_token() -> None:
    account = DOCS["ServiceAccount", PATCHING_ACCOUNT]
    assert account["automountServiceAccountToken"] is False
    for where, template in TEMPLATES.items():
        spec = template["spec"]
        if where.startswith("rayservice/") and not where.endswith("/head"):
            assert spec["serviceAccountName"] == PATCHING_ACCOUNT, where
            assert spec["automountServiceAccountToken"] is True, where
        elif where.endswith("/head"):
            # The head's autoscaler container calls the API with KubeRay's own account.
            assert "serviceAccountName" not in spec, where
        else:
            assert spec["automountServiceAccountToken"] is False, where
            assert "serviceAccountName" not in spec, where
    for cluster, spec in cluster_specs(DOCS).items():
        assert spec["enableInTreeAutoscaling"] is True, f"{cluster}: why its head has a token"


def test_the_replicas_that_patch_never_run_on_the_serving_head() -> None:
    """The Gateway (the ops page) patches the RayService; the head, without the account, has
    no CPU for it."""
    spec = cluster_specs(DOCS)["rayservice"]
    head = dict(ray_groups(spec))["head"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    gateway = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Gateway")
    assert gateway["ray_actor_options"]["num_cpus"] > 0
