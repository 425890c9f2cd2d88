"""The manifests of k8s/ that are core Kubernetes kinds (Deployment, StatefulSet, Service,
PVC, ConfigMap, NetworkPolicy, RBAC) against the API server's own OpenAPI schemas, as shipped
offline by PyPI's kubernetes-validate, in strict mode: a field the schema does not know fails,
where the API server would drop it silently. The Ray kinds are checked against KubeRay's CRDs
in test_k8s_crds.py."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.support.k8s_manifests import Document, documents

# The oldest Kubernetes that KubeRay v1.7.0 supports and managed offerings still run.
KUBERNETES = "1.32.0"


def _core() -> dict[tuple[str, str], Document]:
    return {key: doc for key, doc in documents().items() if "ray.io" not in doc["apiVersion"]}


@pytest.mark.parametrize("key", sorted(_core()), ids=lambda key: f"{key[0]}/{key[1]}")
def test_core_manifests_match_the_api_servers_schema_with_no_unknown_field(
    key: tuple[str, str],
) -> None:
    kubernetes_validate.validate(_core()[key], KUBERNETES, strict=True)


def test_the_strict_check_refuses_an_unknown_field_and_a_wrong_type() -> None:
    redis = _core()["Deployment", "redis"]
    unknown = copy.deepcopy(redis)
    unknown["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES, strict=True)
    wrong = copy.deepcopy(redis)
    wrong["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES, strict=True)
