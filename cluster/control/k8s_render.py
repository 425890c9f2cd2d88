"""`starling k8s render`: the RayService's serveConfigV2, rendered from cluster/serve_config.yaml.

The manifest keeps everything else by hand (pod specs, comments); only the serveConfigV2 block is
rewritten, so that serve_config.yaml stays the one source of the app's deployments.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from ray.serve.schema import ServeDeploySchema

from cluster.control.serve_config import DEFAULT_CONFIG
from core.errors import InvalidInputError

RAYSERVICE_MANIFEST = Path(__file__).resolve().parents[2] / "k8s" / "rayservice.yaml"
SERVE_CONFIG_KEY = "serveConfigV2"


class ClusterTarget(BaseModel):
    """What differs inside the cluster from a local `starling up`."""

    # The shared volume every Ray pod mounts (k8s/storage.yaml, STARLING_HOME in k8s/config.yaml).
    home: str = "/data/starling"
    # Proxies must listen on the pod's interfaces for the RayService's serve Service to reach them.
    http_host: str = "0.0.0.0"
    http_port: int = 8000


class RenderError(InvalidInputError):
    """The manifest has no serveConfigV2 block, or the serve config is not one Serve accepts."""


class RenderResult(BaseModel):
    manifest: Path
    text: str
    changed: bool


def cluster_serve_config(source: Path, target: ClusterTarget) -> dict[str, Any]:
    """serve_config.yaml with the in-cluster home and HTTP address; every other key unchanged."""
    document: dict[str, Any] = yaml.safe_load(source.read_text())
    document["http_options"] = {
        **document.get("http_options", {}),
        "host": target.http_host,
        "port": target.http_port,
    }
    for application in document["applications"]:
        application["args"] = {**application.get("args", {}), "home": target.home}
    # What KubeRay hands to Serve must be a valid declarative config; fail here, not in the pod.
    try:
        ServeDeploySchema.model_validate(document)
    except ValidationError as error:
        raise RenderError(f"{source} is not a valid Serve config: {error}") from None
    return document


def serve_config_text(source: Path, target: ClusterTarget) -> str:
    return yaml.safe_dump(
        cluster_serve_config(source, target), sort_keys=False, default_flow_style=False
    )


_BLOCK_START = re.compile(rf"^(?P<indent> *){SERVE_CONFIG_KEY}: *\|[-+]? *$")


def replace_serve_config(manifest_text: str, body: str) -> str:
    """The manifest with its `serveConfigV2: |` block scalar holding `body`."""
    lines = manifest_text.splitlines(keepends=True)
    matches = [(i, _BLOCK_START.match(line.rstrip("\n"))) for i, line in enumerate(lines)]
    found = [(i, match) for i, match in matches if match]
    if len(found) != 1:
        raise RenderError(f"expected one `{SERVE_CONFIG_KEY}: |` block, found {len(found)}")
    start, match = found[0]
    indent = len(match.group("indent"))
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > indent
    ):
        end += 1
    # Blank lines before the next key separate sections; they are not part of the block.
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    pad = " " * (indent + 2)
    block = [f"{pad}{row}\n" if row else "\n" for row in body.splitlines()]
    return "".join([*lines[: start + 1], *block, *lines[end:]])


def render(
    manifest: Path = RAYSERVICE_MANIFEST,
    source: Path = DEFAULT_CONFIG,
    target: ClusterTarget | None = None,
) -> RenderResult:
    """The manifest as it should read; `changed` says whether the file on disk differs."""
    current = manifest.read_text()
    text = replace_serve_config(current, serve_config_text(source, target or ClusterTarget()))
    return RenderResult(manifest=manifest, text=text, changed=text != current)
