"""The model registry: `registry/<kind>/<name>/<version>/`, immutable once written.

On a local disk a version is committed by renaming its finished folder into place, which fails
onto an existing version. On an object store a publish first claims its version number with a
conditional create (`_claim.json`), then uploads its files under `<version>/` and its
`manifest.json` last: a version without a manifest is invisible, and readers load a version
from a local copy of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pyarrow.fs as pafs
from pydantic import BaseModel, Field

from core.conditional_write import ConditionFailedError, put_object
from core.errors import UnknownModelError
from core.filesystem import RemotePath, StoragePath, download_tree, upload_tree
from core.storage import fsync_path, fsync_tree, write_json_atomic

ModelKind = Literal["recall", "rank"]
# Names and versions become folders of the registry: nothing that could leave it.
MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
VERSION_PATTERN = r"^v\d{1,9}$"
# What a reference may name: published versions, and the in-process "unpublished" one.
_REF_VERSION_PATTERN = r"^[a-z0-9_]{1,32}$"
MANIFEST = "manifest.json"
# On an object store: the object that takes a version number for one publish.
CLAIM = "_claim.json"
_VERSION = re.compile(r"^v(\d+)$")


class ModelRef(BaseModel, frozen=True):
    """Names one registered model version."""

    kind: ModelKind
    name: str = Field(pattern=MODEL_NAME_PATTERN)
    version: str = Field(pattern=_REF_VERSION_PATTERN)


class ModelManifest(BaseModel):
    """What a registered version is, how good it is, and what it was made from."""

    kind: ModelKind
    name: str
    version: str
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metrics: dict[str, float] = Field(default_factory=dict)
    # Defaults to empty so that manifests written before curves existed still load.
    curves: dict[str, list[float]] = Field(
        default_factory=dict, description="per-epoch training figures, e.g. loss and val_roc_auc"
    )
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


class ModelNotFoundError(UnknownModelError):
    """A model name or version that the registry does not hold."""


class Registry:
    """Reads and writes model versions under one root folder (local or on an object store)."""

    def __init__(self, root: StoragePath, cache: Path | None = None) -> None:
        self.root = root
        self._cache = cache or Path(tempfile.gettempdir()) / "starling-registry"

    def _version_dir(self, ref: ModelRef) -> StoragePath:
        return self.root / ref.kind / ref.name / ref.version

    def path(self, ref: ModelRef) -> Path:
        """A local folder holding the version's files: the version itself on a local disk, a
        copy downloaded once per version from an object store."""
        source = self._version_dir(ref)
        if not isinstance(source, RemotePath):
            return source
        manifest = (source / MANIFEST).read_text()
        key = hashlib.sha256(f"{source}\n{manifest}".encode()).hexdigest()[:16]
        local = self._cache / f"{ref.kind}-{ref.name}-{ref.version}-{key}"
        if not (local / MANIFEST).is_file():
            tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            download_tree(source, tmp)
            try:
                os.rename(tmp, local)
            except OSError:
                # Another process of this node downloaded the same version first.
                shutil.rmtree(tmp, ignore_errors=True)
        return local

    def versions(self, kind: ModelKind, name: str) -> list[str]:
        """Committed versions, oldest first."""
        folder = self.root / kind / name
        if not folder.is_dir():
            return []
        found = [
            (int(m.group(1)), p.name) for p in folder.iterdir() if (m := _VERSION.match(p.name))
        ]
        if isinstance(folder, RemotePath):
            found = [(n, v) for n, v in found if (folder / v / MANIFEST).is_file()]
        return [name for _, name in sorted(found)]

    def names(self, kind: ModelKind) -> list[str]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, ref: ModelRef) -> ModelManifest:
        path = self._version_dir(ref) / MANIFEST
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
        curves: dict[str, list[float]] | None = None,
    ) -> ModelManifest:
        """Write a new version: `write(folder)` fills a temp folder, which is renamed into place
        (uploaded, on an object store)."""
        folder = self.root / kind / name
        next_manifest = partial(
            self._next_manifest,
            kind,
            name,
            metrics,
            data_snapshot,
            params,
            feature_schema_hash,
            curves or {},
        )
        if isinstance(folder, RemotePath):
            with tempfile.TemporaryDirectory(prefix="starling-publish-") as files:
                write(Path(files))
                manifest = next_manifest()
                # A number another publish claimed is not listed until its manifest lands.
                while not _claim(folder / manifest.version):
                    manifest = next_manifest(at_least=int(manifest.version[1:]) + 1)
                _upload(Path(files), folder / manifest.version, manifest)
                return manifest
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".staging-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            write(tmp)
            fsync_tree(tmp)
            while True:
                manifest = next_manifest()
                # Flushes the manifest and the staging folder's entries (the files are already).
                write_json_atomic(tmp / MANIFEST, manifest.model_dump(mode="json"))
                try:
                    # A rename onto an existing version fails, which keeps versions immutable
                    # when two trainers publish at once.
                    os.rename(tmp, folder / manifest.version)
                    fsync_path(folder)
                    return manifest
                except OSError:
                    if not (folder / manifest.version).exists():
                        raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _next_manifest(
        self,
        kind: ModelKind,
        name: str,
        metrics: dict[str, float],
        data_snapshot: str,
        params: dict[str, Any] | None,
        feature_schema_hash: str | None,
        curves: dict[str, list[float]],
        at_least: int = 1,
    ) -> ModelManifest:
        versions = self.versions(kind, name)
        number = max(int(versions[-1][1:]) + 1 if versions else 1, at_least)
        return ModelManifest(
            kind=kind,
            name=name,
            version=f"v{number}",
            metrics=metrics,
            params=params or {},
            feature_schema_hash=feature_schema_hash,
            data_snapshot=data_snapshot,
            curves=curves,
        )

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


def _claim(target: RemotePath) -> bool:
    """Take a version number for this publish: create its claim object where there is none
    (S3's If-None-Match), so that two trainers publishing at once never share a number. False
    when another publish holds it (then `versions` will not list it before its manifest, and
    the next number is tried)."""
    owner = {"owner": uuid.uuid4().hex, "claimed": datetime.now(UTC).isoformat()}
    try:
        put_object(target / CLAIM, json.dumps(owner).encode(), None)
    except ConditionFailedError:
        return False
    return True


def _upload(files: Path, target: RemotePath, manifest: ModelManifest) -> None:
    """Upload a version's files, then its manifest, which makes the version visible.

    The version's number was claimed first: what else lies under it is what an upload without
    a claim left (an older Starling's, killed), which no live publish is writing. A killed
    upload that held a claim keeps its number, unseen: the next publish takes the one after.
    """
    for info in target.children(recursive=True):
        if info.type == pafs.FileType.File and info.base_name != CLAIM:
            target.fs.delete_file(info.path)
    upload_tree(files, target)
    write_json_atomic(target / MANIFEST, manifest.model_dump(mode="json"))
