"""Atomic writes of folders and JSON files, and fingerprints that tell when an output is stale.

A local folder is committed by flushing a finished temporary folder to disk and renaming it
onto it. An object store has no rename: a folder there is committed by writing its new version
under `<folder>/_versions/<id>/` and then the one small object `<folder>/_current.json` that
names it; readers go through `committed(folder)`, so they only ever see a finished version.
That write is a compare-and-swap on the pointer as the commit found it (S3's conditional
writes): a commit that another writer's came before fails and leaves that one in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as pds
import pyarrow.fs as pafs
from pydantic import BaseModel, Field

from core.conditional_write import ConditionFailedError, put_object, read_object
from core.filesystem import RemotePath, StoragePath, arrow_location, remove_tree
from core.object_lease import check_held_leases
from core.writer_lock import holds_writer_lock, writer_lock

MANIFEST = "_manifest.json"
POINTER = "_current.json"
VERSIONS = "_versions"


class OutputManifest(BaseModel):
    """What a job wrote into a folder, and from which inputs; committed last."""

    step: str
    inputs: dict[str, str] = Field(description="input name -> fingerprint")
    rows: dict[str, int] = Field(default_factory=dict)
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = Field(default_factory=dict)


class CommitConflictError(RuntimeError):
    """Another writer committed the folder after this commit began; this one committed nothing."""


class VersionPointer(BaseModel):
    """The committed version of a folder on an object store, and the one before it (kept so
    that a reader that resolved the pointer just before a commit can finish its read)."""

    version: str
    previous: str | None = None


def write_json_atomic(path: StoragePath, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str)
    if isinstance(path, RemotePath):
        path.write_text(text)
        return
    write_text_atomic(path, text)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a local file so that readers, and the disk after a crash or a power loss, hold
    the old text or the new one, never half: the text is flushed in a temporary file beside it
    before the rename, and the folder after it, so that the rename itself is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """Flush one file or folder to disk (a folder's fsync makes the renames in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush a finished folder, files first and folders after their contents, before the rename
    that publishes it: without this a power loss after the rename can leave a committed folder
    whose files are empty or short (the rename reaches the disk before their data)."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                fsync_path(Path(folder, name))
        fsync_path(Path(folder))


def _pointer(folder: RemotePath) -> VersionPointer | None:
    pointer = folder / POINTER
    if not pointer.is_file():
        return None
    return VersionPointer.model_validate_json(pointer.read_text())


def committed(folder: StoragePath) -> StoragePath:
    """Where readers find the committed content of `folder`.

    A local folder is its own committed version. On an object store it is the version the
    pointer names; with no pointer yet, a path that does not exist (so uncommitted versions
    of a first, killed commit are never read).
    """
    if not isinstance(folder, RemotePath):
        return folder
    pointer = _pointer(folder)
    return folder / VERSIONS / (pointer.version if pointer else "none")


def committed_location(folder: StoragePath) -> tuple[str, pafs.FileSystem | None]:
    """The (path, filesystem) of a folder's committed content, for Ray Data readers."""
    return arrow_location(committed(folder))


def parquet_dataset(folder: StoragePath, **kwargs: Any) -> pds.Dataset:
    """The committed Parquet files of a folder as a pyarrow dataset (pyarrow skips names that
    start with `_` or `.`, such as `_manifest.json`)."""
    path, fs = committed_location(folder)
    return pds.dataset(path, filesystem=fs, format="parquet", **kwargs)


@contextmanager
def atomic_dir(target: StoragePath) -> Iterator[StoragePath]:
    """Yield an empty temporary folder for the next content of `target`; on success it becomes
    the committed content. On an exception it is removed and `target` is left as it was.

    One writer per folder at a time (a job owns its outputs; the lake's writers hold its
    writer lock). On S3 a commit that another writer's came before raises CommitConflictError
    instead of replacing it.
    """
    if isinstance(target, RemotePath):
        with _commit_version(target) as tmp:
            yield tmp
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_tree(tmp)
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _commit_version(target: RemotePath) -> Iterator[RemotePath]:
    start = read_object(target / POINTER)
    old = VersionPointer.model_validate_json(start.body) if start else None
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    tmp = target / VERSIONS / version
    try:
        yield tmp
        # A writer whose lease lapsed may have another in its place: it must not commit.
        check_held_leases()
        pointer = VersionPointer(version=version, previous=old.version if old else None)
        _swap_pointer(target, pointer, start.etag if start else None)
    except BaseException:
        remove_tree(tmp)
        raise
    if old is not None and old.previous is not None:
        # Committed once and superseded twice now: no writer is writing it and no reader
        # resolves it any more.
        remove_tree(target / VERSIONS / old.previous)
    if holds_writer_lock(target):
        discard_uncommitted(target)


def _swap_pointer(target: RemotePath, pointer: VersionPointer, etag: str | None) -> None:
    """Write the pointer only if it is still the one the commit began from (ETag `etag`;
    None: there was none)."""
    text = json.dumps(pointer.model_dump(), indent=2, sort_keys=True)
    try:
        put_object(target / POINTER, text.encode(), etag)
    except ConditionFailedError:
        raise CommitConflictError(
            f"another writer committed {target} while this commit was being written; nothing "
            "was committed (run it again: it starts from that writer's version)"
        ) from None


def discard_uncommitted(target: StoragePath) -> None:
    """Delete the versions of a folder on an object store that are neither committed nor the
    one before it: older ones, and those of killed commits. Only while holding the folder's
    writer lock (taken here if this thread does not hold it), so never a version that another
    live writer is still writing."""
    if not isinstance(target, RemotePath):
        return
    with writer_lock(target):
        pointer = _pointer(target)
        keep = {pointer.version, pointer.previous} if pointer else set()
        for version in (target / VERSIONS).iterdir():
            if version.name not in keep:
                remove_tree(version)


def read_manifest(folder: StoragePath) -> OutputManifest | None:
    """The committed manifest of a folder, or None when the folder is missing or incomplete."""
    path = committed(folder) / MANIFEST
    if not path.is_file():
        return None
    return OutputManifest.model_validate_json(path.read_text())


def write_manifest(folder: StoragePath, manifest: OutputManifest) -> None:
    write_json_atomic(folder / MANIFEST, manifest.model_dump(mode="json"))


def fingerprint(path: StoragePath) -> str:
    """A cheap content fingerprint: the committed manifest when there is one, else file stats."""
    manifest = committed(path) / MANIFEST
    digest = hashlib.sha256()
    if manifest.is_file():
        digest.update(manifest.read_bytes())
        return digest.hexdigest()[:16]
    if isinstance(path, RemotePath):
        for file in sorted(path.rglob("*"), key=str):
            size, mtime = file.size_and_mtime()
            digest.update(f"{file.path}:{size}:{mtime}".encode())
        return digest.hexdigest()[:16]
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path.parent)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def is_fresh(output: StoragePath, inputs: dict[str, str]) -> bool:
    """True when `output` was committed from exactly these input fingerprints."""
    manifest = read_manifest(output)
    return manifest is not None and manifest.inputs == inputs
