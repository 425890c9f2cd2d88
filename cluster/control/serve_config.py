"""The serve config: the packaged `cluster/serve_config.yaml` is the one source of the app's
deployment settings; operators' changes (scale, promote) go to the home's copy of it
(`<home>/serve_config.yaml`, made from the packaged one at the first change) or to the file
STARLING_SERVE_CONFIG names, never into the package. Here: which file a process reads and which
one it changes, reading it, turning it into the declarative config Serve applies, and writing
changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field
from ray.serve import Deployment
from ray.serve.schema import ServeDeploySchema

from cluster.names import APP_NAME
from core.errors import InvalidInputError, UnknownNameError
from core.settings import Settings
from core.storage import write_text_atomic

DEFAULT_CONFIG = Path(__file__).parents[1] / "serve_config.yaml"
# Replicas run inside the cluster: they need no address to reach it. API keys never go into
# the Serve config, which the dashboard and `serve status` show to anyone who can read them:
# replicas take them from their own environment (the CLI's, on a local Ray it starts; a
# Secret on KubeRay).
_NOT_IN_ARGS = {
    "ray_address",
    "write_api_keys",
    "admin_api_keys",
    "storage_access_key",
    "storage_secret_key",
}


class DeploymentConfig(BaseModel):
    """One deployment's options; any field Serve knows passes through unchanged."""

    model_config = ConfigDict(extra="allow")

    name: str
    user_config: dict[str, Any] | None = None
    autoscaling_config: dict[str, Any] | None = None


class ApplicationConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    route_prefix: str = "/"
    import_path: str
    args: dict[str, Any] = Field(default_factory=dict)
    deployments: list[DeploymentConfig] = Field(default_factory=list)

    def deployment(self, name: str) -> DeploymentConfig:
        for deployment in self.deployments:
            if deployment.name == name:
                return deployment
        known = ", ".join(d.name for d in self.deployments)
        raise UnknownDeploymentError(f"no deployment {name!r} (known: {known})")


class ServeConfigFile(BaseModel):
    """The subset of Serve's declarative config that Starling reads."""

    model_config = ConfigDict(extra="allow")

    http_options: dict[str, Any] = Field(default_factory=dict)
    logging_config: dict[str, Any] = Field(default_factory=dict)
    applications: list[ApplicationConfig]

    def app(self, name: str) -> ApplicationConfig:
        for application in self.applications:
            if application.name == name:
                return application
        raise KeyError(f"no application {name!r} in the serve config")


class UnknownDeploymentError(UnknownNameError):
    """A deployment name that the serve config does not list."""


HOME_CONFIG = "serve_config.yaml"


class PackagedConfigError(InvalidInputError):
    """A change aimed at the packaged serve config, which is only ever read at run time."""


def _explicit(settings: Settings) -> Path | None:
    """STARLING_SERVE_CONFIG, unless it names the packaged file: that one only ever seeds a
    home's copy, so naming it means the same as naming nothing."""
    chosen = settings.serve_config
    if chosen is None or chosen.resolve() == DEFAULT_CONFIG.resolve():
        return None
    return chosen


def home_config(settings: Settings) -> Path:
    """Where this home keeps its operators' changes to the serve config."""
    return settings.home / HOME_CONFIG


def changed_config_path(settings: Settings) -> Path:
    """The serve config a change goes into: STARLING_SERVE_CONFIG when set, else the home's
    copy (not made here: `update_deployment` seeds it from the packaged file)."""
    return _explicit(settings) or home_config(settings)


def config_path(settings: Settings) -> Path:
    """The serve config a deploy of this home reads: the one changes go into once a change
    made it (or the operator wrote it), else the packaged file."""
    changed = changed_config_path(settings)
    return changed if changed.is_file() else DEFAULT_CONFIG


def load_serve_config(path: Path = DEFAULT_CONFIG) -> ServeConfigFile:
    return ServeConfigFile.model_validate(yaml.safe_load(path.read_text()))


def configured(deployment: Deployment, path: Path = DEFAULT_CONFIG, **overrides: Any) -> Deployment:
    """`deployment` with the options its entry in the serve config at `path` sets, then
    `overrides`. The decorators carry none, so that build_app and whatever binds one deployment
    alone (tests, benchmarks) run it with the replicas, resources and limits a deploy of the
    file gives it."""
    entry = load_serve_config(path).app(APP_NAME).deployment(deployment.name)
    options = entry.model_dump(exclude={"name"}, exclude_none=True)
    return deployment.options(**{**options, **overrides})


def app_args(settings: Settings) -> dict[str, Any]:
    """`build_app`'s args: the Settings this process resolved, so replicas see the same, and
    an explicit serve config file by absolute path, so that changes made from inside the app
    (admin routes) land in the file this deploy read; without one, replicas find the home's
    copy as this process does. A REDIS_URL that holds a password stays out, as
    the API keys do: replicas read it from their environment, which `ray_runtime` gives a local
    Ray (cluster/runtime/session.py) and a Secret gives KubeRay's pods (k8s/redis.yaml)."""
    hidden = _NOT_IN_ARGS | ({"redis_url"} if has_password(settings.redis_url) else set())
    args = settings.model_dump(mode="json", exclude=hidden, exclude_defaults=True)
    args = {**args, "home": str(settings.home)}
    explicit = _explicit(settings)
    if explicit is not None:
        args["serve_config"] = str(explicit.resolve())
    return args


def has_password(redis_url: str | None) -> bool:
    """Whether a Redis URL carries a password, in its user part or as redis-py's `password`
    query argument."""
    if redis_url is None:
        return False
    parts = urlsplit(redis_url)
    return parts.password is not None or "password" in parse_qs(parts.query)


def declarative_config(
    settings: Settings, app_name: str, user_configs: dict[str, dict[str, Any]]
) -> ServeDeploySchema:
    """The file's config with this process's Settings as args and host/port, and the given
    user_configs for deployments whose entry in the file names none."""
    raw = yaml.safe_load(config_path(settings).read_text())
    raw["http_options"] = {
        **raw.get("http_options", {}),
        "host": settings.http_host,
        "port": settings.http_port,
    }
    app = _find(raw["applications"], app_name)
    app["args"] = app_args(settings)
    for deployment in app.get("deployments", []):
        if deployment["name"] in user_configs and not deployment.get("user_config"):
            deployment["user_config"] = user_configs[deployment["name"]]
    return ServeDeploySchema.model_validate(raw)


def update_deployment(path: Path, app_name: str, deployment: str, changes: dict[str, Any]) -> None:
    """Set options of one deployment in the file at `path`, keeping its leading comment; a
    file not there yet starts as a copy of the packaged one, which is never written."""
    if path.resolve() == DEFAULT_CONFIG.resolve():
        raise PackagedConfigError(f"{path} is the packaged serve config; change a copy of it")
    text = path.read_text() if path.is_file() else DEFAULT_CONFIG.read_text()
    raw = yaml.safe_load(text)
    change_deployment(raw, app_name, deployment, changes)
    body = text[: _header_length(text)] + yaml.safe_dump(raw, sort_keys=False)
    # Readers (a concurrent `serve deploy`) see the old file or the new one, never half, and
    # an operator's change survives a crash or a power loss once the command returns.
    write_text_atomic(path, body)


def change_deployment(
    document: dict[str, Any], app_name: str, deployment: str, changes: dict[str, Any]
) -> None:
    """Set options of one deployment in a parsed serve config, in place."""
    deployment_options(document, app_name, deployment).update(changes)


def deployment_options(document: dict[str, Any], app_name: str, deployment: str) -> dict[str, Any]:
    """One deployment's entry in a parsed serve config (the entry itself, not a copy)."""
    entries = _find(document["applications"], app_name).get("deployments", [])
    entry = next((d for d in entries if d["name"] == deployment), None)
    if entry is None:
        raise UnknownDeploymentError(f"no deployment {deployment!r} in {app_name}")
    return entry


def _header_length(text: str) -> int:
    length = 0
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        length += len(line)
    return length


def _find(applications: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for application in applications:
        if application["name"] == name:
            return application
    raise KeyError(f"no application {name!r} in the serve config")
