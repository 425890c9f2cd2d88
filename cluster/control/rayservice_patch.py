"""Operators' changes on KubeRay: they go into the RayService resource's serveConfigV2.

The KubeRay operator owns the Serve config of a RayService and reverts changes made to Serve
directly, so scaling or promoting there patches the resource; the operator then applies the new
config to the running cluster in place (a serveConfigV2-only change never starts a new cluster).
Calls use the pod's service account (k8s/rbac.yaml grants it get and patch on rayservices).
"""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from cluster.control.serve_config import change_deployment, deployment_options
from core.errors import AppStateError
from core.settings import KubeRaySettings

API_GROUP = "apis/ray.io/v1"
CONFLICT_RETRIES = 5


class RayServiceError(AppStateError):
    """The Kubernetes API refused a read or a patch of the RayService."""


class RayServiceApi:
    """Reads and patches one RayService through the Kubernetes REST API."""

    def __init__(self, settings: KubeRaySettings, client: httpx.Client | None = None) -> None:
        if settings.rayservice is None:
            raise RayServiceError("STARLING_KUBERAY__RAYSERVICE names no RayService")
        account = settings.service_account_dir
        namespace = settings.namespace or (account / "namespace").read_text().strip()
        self.url = (
            f"{settings.api_server.rstrip('/')}/{API_GROUP}/namespaces/{namespace}"
            f"/rayservices/{settings.rayservice}"
        )
        self._client = client or httpx.Client(
            verify=str(account / "ca.crt"),
            headers={"Authorization": f"Bearer {(account / 'token').read_text().strip()}"},
            timeout=10.0,
        )

    def get(self) -> dict[str, Any]:
        response = self._client.get(self.url)
        _raise_for(response, "read")
        return response.json()

    def patch_serve_config(self, serve_config: str, resource_version: str) -> bool:
        """Replace serveConfigV2 if the resource is still at `resource_version`; False when
        someone changed it in between (409), so the caller rereads and retries."""
        patch = {
            "metadata": {"resourceVersion": resource_version},
            "spec": {"serveConfigV2": serve_config},
        }
        response = self._client.patch(
            self.url, json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        if response.status_code == httpx.codes.CONFLICT:
            return False
        _raise_for(response, "patch")
        return True


def _raise_for(response: httpx.Response, verb: str) -> None:
    if response.is_success:
        return
    raise RayServiceError(
        f"could not {verb} {response.request.url}: HTTP {response.status_code} {response.text}"
    )


def patched_serve_config(
    serve_config: str, app_name: str, deployment: str, changes: dict[str, Any]
) -> str:
    """The serveConfigV2 text with one deployment's options changed, every other key kept."""
    document = yaml.safe_load(serve_config)
    change_deployment(document, app_name, deployment, changes)
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def change_rayservice(
    api: RayServiceApi, app_name: str, deployment: str, changes: dict[str, Any]
) -> None:
    """Patch one deployment's options into the RayService, rereading after a conflicting
    write by someone else (optimistic concurrency on resourceVersion)."""
    for _ in range(CONFLICT_RETRIES):
        resource = api.get()
        text = patched_serve_config(
            resource["spec"]["serveConfigV2"], app_name, deployment, changes
        )
        if api.patch_serve_config(text, resource["metadata"]["resourceVersion"]):
            return
    raise RayServiceError(f"{api.url} kept changing: gave up after {CONFLICT_RETRIES} tries")


def rayservice_deployment(api: RayServiceApi, app_name: str, deployment: str) -> dict[str, Any]:
    """One deployment's options as the RayService holds them."""
    return deployment_options(
        yaml.safe_load(api.get()["spec"]["serveConfigV2"]), app_name, deployment
    )
