"""The Ray manifests against KubeRay v1.7.0's CRD schemas (`../shared/k8s-crds/`): what a
Kubernetes API server would refuse, and fields the schema does not know, which it would drop
without a word."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.k8s_manifests import ROOT, documents

CRDS = ROOT.parent / "shared" / "k8s-crds" / "kuberay-v1.7.0"
KINDS = {"RayCluster": "rayclusters", "RayService": "rayservices", "RayJob": "rayjobs"}
PRESERVE = "x-kubernetes-preserve-unknown-fields"

pytestmark = pytest.mark.skipif(
    not CRDS.is_dir(), reason=f"KubeRay's CRDs are not here ({CRDS}: the shared checkout)"
)


def _closed(schema: Any) -> Any:
    """The schema with every object that lists its properties refusing any other: the API
    server prunes unknown fields (structural schemas) unless a node preserves them."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema and not schema.get(PRESERVE) and "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


@cache
def _validator(kind: str) -> Draft202012Validator:
    # The CRDs are 1 MB of YAML each: read once per run.
    path = CRDS / f"ray.io_{KINDS[kind]}.yaml"
    crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _closed(served["schema"]["openAPIV3Schema"])
    return Draft202012Validator(schema)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ray_manifests_match_kuberay_s_schema_with_no_unknown_field(kind: str) -> None:
    validator = _validator(kind)
    manifests = [doc for (k, _), doc in documents().items() if k == kind]
    assert manifests, f"no {kind} in k8s/"
    for doc in manifests:
        errors = [
            f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(doc)
        ]
        assert not errors, f"{kind} {doc['metadata']['name']}:\n" + "\n".join(errors)


def test_the_schema_check_refuses_an_unknown_field() -> None:
    validator = _validator("RayCluster")
    doc = copy.deepcopy(documents()["RayCluster", "starling-batch"])
    doc["spec"]["headGroupSpec"]["rayStartParam"] = {}
    assert any("rayStartParam" in error.message for error in validator.iter_errors(doc))
