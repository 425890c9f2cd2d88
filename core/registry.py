"""The model registry: `registry/<kind>/<name>/<version>/`, immutable once written."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.storage import write_json_atomic

ModelKind = Literal["recall", "rank"]
MANIFEST = "manifest.json"
_VERSION = re.compile(r"^v(\d+)$")


class ModelRef(BaseModel, frozen=True):
    """Names one registered model version."""

    kind: ModelKind
    name: str
    version: str


class ModelManifest(BaseModel):
    """What a registered version is, how good it is, and what it was made from."""

    kind: ModelKind
    name: str
    version: str
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    feature_schema_hash: str | None = None
    data_snapshot: str = Field(description="fingerprint of the samples the model learnt from")
    code_version: str = Field(default_factory=lambda: _code_version())

    def ref(self) -> ModelRef:
        return ModelRef(kind=self.kind, name=self.name, version=self.version)


def _code_version() -> str:
    try:
        return metadata.version("starling")
    except metadata.PackageNotFoundError:
        return "unknown"


class ModelNotFoundError(LookupError):
    """A model name or version that the registry does not hold."""


class Registry:
    """Reads and writes model versions under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, ref: ModelRef) -> Path:
        return self.root / ref.kind / ref.name / ref.version

    def versions(self, kind: ModelKind, name: str) -> list[str]:
        """Committed versions, oldest first."""
        folder = self.root / kind / name
        if not folder.is_dir():
            return []
        found = [
            (int(m.group(1)), p.name) for p in folder.iterdir() if (m := _VERSION.match(p.name))
        ]
        return [name for _, name in sorted(found)]

    def names(self, kind: ModelKind) -> list[str]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, ref: ModelRef) -> ModelManifest:
        path = self.path(ref) / MANIFEST
        if not path.is_file():
            raise ModelNotFoundError(f"no {ref.kind} model {ref.name} version {ref.version}")
        return ModelManifest.model_validate_json(path.read_text())

    def latest(self, kind: ModelKind, name: str) -> ModelManifest | None:
        versions = self.versions(kind, name)
        if not versions:
            return None
        return self.manifest(ModelRef(kind=kind, name=name, version=versions[-1]))

    def publish(
        self,
        kind: ModelKind,
        name: str,
        write: Callable[[Path], None],
        metrics: dict[str, float],
        data_snapshot: str,
        params: dict[str, Any] | None = None,
        feature_schema_hash: str | None = None,
    ) -> ModelManifest:
        """Write a new version: `write(folder)` fills a temp folder, which is renamed into place."""
        folder = self.root / kind / name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".staging-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            write(tmp)
            while True:
                versions = self.versions(kind, name)
                number = int(versions[-1][1:]) + 1 if versions else 1
                manifest = ModelManifest(
                    kind=kind,
                    name=name,
                    version=f"v{number}",
                    metrics=metrics,
                    params=params or {},
                    feature_schema_hash=feature_schema_hash,
                    data_snapshot=data_snapshot,
                )
                write_json_atomic(tmp / MANIFEST, manifest.model_dump(mode="json"))
                try:
                    # A rename onto an existing version fails, which keeps versions immutable
                    # when two trainers publish at once.
                    os.rename(tmp, folder / manifest.version)
                    return manifest
                except OSError:
                    if not (folder / manifest.version).exists():
                        raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def serving(self, kind: ModelKind) -> ModelRef | None:
        """The version promoted to serve, or the newest version of any model when none was."""
        pointer = self.root / kind / "serving.json"
        if pointer.is_file():
            return ModelRef.model_validate_json(pointer.read_text())
        newest = [m for n in self.names(kind) if (m := self.latest(kind, n)) is not None]
        if not newest:
            return None
        return max(newest, key=lambda m: m.created).ref()

    def promote(self, ref: ModelRef) -> None:
        """Point serving at `ref` (which must exist)."""
        self.manifest(ref)
        write_json_atomic(self.root / ref.kind / "serving.json", ref.model_dump())
