"""Atomic writes of folders and JSON files, and fingerprints that tell when an output is stale."""

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

from pydantic import BaseModel, Field

MANIFEST = "_manifest.json"


class OutputManifest(BaseModel):
    """What a job wrote into a folder, and from which inputs; committed last."""

    step: str
    inputs: dict[str, str] = Field(description="input name -> fingerprint")
    rows: dict[str, int] = Field(default_factory=dict)
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = Field(default_factory=dict)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it replaces `target`.

    On an exception the temporary folder is removed and `target` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> OutputManifest | None:
    """The committed manifest of a folder, or None when the folder is missing or incomplete."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    return OutputManifest.model_validate_json(path.read_text())


def write_manifest(folder: Path, manifest: OutputManifest) -> None:
    write_json_atomic(folder / MANIFEST, manifest.model_dump(mode="json"))


def fingerprint(path: Path) -> str:
    """A cheap content fingerprint: the committed manifest when there is one, else file stats."""
    manifest = path / MANIFEST
    digest = hashlib.sha256()
    if manifest.is_file():
        digest.update(manifest.read_bytes())
        return digest.hexdigest()[:16]
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path.parent)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def is_fresh(output: Path, inputs: dict[str, str]) -> bool:
    """True when `output` was committed from exactly these input fingerprints."""
    manifest = read_manifest(output)
    return manifest is not None and manifest.inputs == inputs
