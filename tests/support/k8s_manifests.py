"""The documents of k8s/*.yaml and the pod templates in them, for the manifest tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
K8S = ROOT / "k8s"

Document = dict[str, Any]


def documents() -> dict[tuple[str, str], Document]:
    """Every document of k8s/*.yaml by (kind, name); a pair defined twice fails."""
    found: dict[tuple[str, str], Document] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{key} defined twice"
            found[key] = doc
    return found


def cluster_specs(docs: dict[tuple[str, str], Document]) -> dict[str, Document]:
    """Every RayCluster spec in the manifests, the RayService's included."""
    return {
        "raycluster": docs["RayCluster", "starling-batch"]["spec"],
        "rayservice": docs["RayService", "starling"]["spec"]["rayClusterConfig"],
    }


def ray_groups(spec: Document) -> list[tuple[str, Document]]:
    return [("head", spec["headGroupSpec"])] + [
        (g["groupName"], g) for g in spec["workerGroupSpecs"]
    ]


def pod_templates(docs: dict[tuple[str, str], Document]) -> dict[str, Document]:
    """Every pod template of the manifests by where it is: Ray heads and worker groups, the
    RayJob's submitter, and the Deployments and StatefulSets."""
    templates = {
        f"{cluster}/{group}": g["template"]
        for cluster, spec in cluster_specs(docs).items()
        for group, g in ray_groups(spec)
    }
    for (kind, name), doc in docs.items():
        if kind in ("Deployment", "StatefulSet"):
            templates[f"{kind}/{name}"] = doc["spec"]["template"]
        if kind == "RayJob":
            templates[f"{kind}/{name}"] = doc["spec"]["submitterPodTemplate"]
    return templates
