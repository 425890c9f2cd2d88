"""Opening a registered recall model's vector index for one serving replica."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import Settings
from recall_service.artifacts import COLLECTION, MILVUS_DB, server_collection
from recall_service.index import VectorIndex
from recall_service.index_artifacts import open_server_collection


@dataclass(frozen=True)
class ReplicaIndex:
    """An open index, and the replica's private copy of it (None on a Milvus server)."""

    ref: ModelRef
    index: VectorIndex
    workdir: Path | None

    @property
    def label(self) -> str:
        """How traces name the model, e.g. "item2vec:v1"."""
        return f"{self.ref.name}:{self.ref.version}"

    def close(self) -> None:
        self.index.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def resolve_ref(registry: Registry, name: str, version: str | None) -> ModelRef:
    """The recall model `name` at `version`, or at its newest version when None."""
    if version is None:
        latest = registry.latest("recall", name)
        if latest is None:
            raise ModelNotFoundError(f"no recall model {name} in {registry.root}")
        return latest.ref()
    return registry.manifest(ModelRef(kind="recall", name=name, version=version)).ref()


def open_replica_index(settings: Settings, paths: StarlingPaths, ref: ModelRef) -> ReplicaIndex:
    """Connect to the version's collection on `settings.milvus_uri` (built from the version's
    files on first use), or, without a server, open a private copy of the version's Milvus Lite
    folder: only one process may open a folder."""
    version_dir = Registry(paths.registry).path(ref)
    if settings.milvus_uri:
        collection = server_collection(ref.name, ref.version)
        index = open_server_collection(settings.milvus_uri, collection, version_dir)
        return ReplicaIndex(ref, index, None)
    source = version_dir / MILVUS_DB
    if not source.is_dir():
        raise FileNotFoundError(f"{ref.name}:{ref.version} has no vector index at {source}")
    workdir = paths.runtime / "recall" / uuid.uuid4().hex
    try:
        copy = workdir / MILVUS_DB
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("LOCK"))
        return ReplicaIndex(ref, VectorIndex.open(copy, COLLECTION), workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
