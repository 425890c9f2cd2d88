"""Reads `cluster/serve_config.yaml`, the one source of the app's deployment settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONFIG = Path(__file__).with_name("serve_config.yaml")


class DeploymentConfig(BaseModel):
    """One deployment's options; any field Serve knows passes through unchanged."""

    model_config = ConfigDict(extra="allow")

    name: str

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name"}, exclude_none=True)


class ApplicationConfig(BaseModel):
    name: str
    route_prefix: str = "/"
    import_path: str
    args: dict[str, Any] = Field(default_factory=dict)
    deployments: list[DeploymentConfig] = Field(default_factory=list)


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


def load_serve_config(path: Path = DEFAULT_CONFIG) -> ServeConfigFile:
    return ServeConfigFile.model_validate(yaml.safe_load(path.read_text()))
