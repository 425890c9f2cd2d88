"""Opening a registered recall model's vector index for one serving replica."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.errors import MissingDataError
from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import Settings
from recall_service.index.artifacts import IndexSpec, open_server_collection
from recall_service.index.exact import ExactIndex
from recall_service.index.files import COLLECTION, INDEX_SPEC, MILVUS_DB, server_collection
from recall_service.index.milvus import VectorIndex
from recall_service.serving.routes import ItemIndex


@dataclass(frozen=True)
class ReplicaIndex:
    """An open index, and the replica's private copy of it (None on a Milvus server).

    `exact` holds the version's vectors in memory when `recall.memory_search` is on and the
    Milvus index is an exact inner product search (Milvus Lite's FLAT): it answers the same
    hits without Milvus.
    """

    ref: ModelRef
    index: VectorIndex
    workdir: Path | None
    exact: ExactIndex | None = None

    @property
    def searcher(self) -> ItemIndex:
        """What recall routes search: the in-memory twin when there is one. Milvus Lite runs
        its gRPC server on threads of this process and scans rows in Python, so each of a
        request's four lookups cost 1-9 ms of CPU there, against microseconds in numpy."""
        return self.exact or self.index

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
        index = open_server_collection(
            settings.milvus_uri, collection, version_dir, settings.milvus.credentials()
        )
        return ReplicaIndex(ref, index, None)
    source = version_dir / MILVUS_DB
    if not source.is_dir():
        raise MissingDataError(f"{ref.name}:{ref.version} has no vector index at {source}")
    copies = paths.runtime / "recall"
    remove_orphan_copies(copies)
    workdir = copies / _copy_name(socket.gethostname(), os.getpid())
    try:
        copy = workdir / MILVUS_DB
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("LOCK"))
        exact = _exact(version_dir) if settings.recall.memory_search else None
        return ReplicaIndex(ref, VectorIndex.open(copy, COLLECTION), workdir, exact)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _copy_name(host: str, pid: int) -> str:
    # Named after its owner, so that the next replica to start can tell a copy left by a
    # killed one (whose close never ran) from a live replica's.
    return f"{host}_{pid}_{uuid.uuid4().hex}"


def remove_orphan_copies(copies: Path) -> None:
    """Remove the index copies in `copies` whose owner process, on this host, is gone.

    Copies of other hosts (a home shared between nodes) and names of another form are left
    alone: their owner cannot be checked from here.
    """
    if not copies.is_dir():
        return
    host = socket.gethostname()
    for copy in copies.iterdir():
        owner_host, _, rest = copy.name.rpartition("_")[0].rpartition("_")
        if owner_host == host and rest.isdigit() and not psutil.pid_exists(int(rest)):
            shutil.rmtree(copy, ignore_errors=True)


def _exact(version_dir: Path) -> ExactIndex | None:
    """The version's vectors as an ExactIndex when its Milvus index is exact inner product."""
    spec_file = version_dir / INDEX_SPEC
    if not spec_file.is_file():
        return None
    spec = IndexSpec.model_validate_json(spec_file.read_text())
    if spec.metric != "IP" or spec.index_type != "FLAT":
        return None
    return ExactIndex.load(version_dir)
