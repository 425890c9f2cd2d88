"""A replica's private index copy is removed at its close, or by the next replica to start
when its owner was killed before it could close."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from recall_service.index import replica
from recall_service.index.files import MILVUS_DB
from recall_service.index.replica import open_replica_index, remove_orphan_copies, resolve_ref


class FakeIndex:
    """Stands in for Milvus Lite, which these tests do not need."""

    def close(self) -> None:
        pass


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _copy(copies: Path, name: str) -> Path:
    (copies / name / MILVUS_DB).mkdir(parents=True)
    return copies / name


def test_the_copies_of_dead_owners_on_this_host_are_removed(tmp_path: Path) -> None:
    host, dead = socket.gethostname(), _dead_pid()
    orphan = _copy(tmp_path, f"{host}_{dead}_aa")
    live = _copy(tmp_path, f"{host}_{os.getpid()}_bb")
    other_host = _copy(tmp_path, f"{host}-other_{dead}_cc")
    unnamed = _copy(tmp_path, "0123456789abcdef")
    remove_orphan_copies(tmp_path)
    assert not orphan.exists()
    assert live.exists() and other_host.exists() and unnamed.exists()


def test_a_replica_start_removes_the_copy_a_killed_replica_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = StarlingPaths(tmp_path)
    registry = Registry(paths.registry)
    registry.publish(
        "recall",
        "item2vec",
        write=lambda folder: (folder / MILVUS_DB).mkdir(),
        metrics={},
        data_snapshot="test",
    )
    monkeypatch.setattr(replica.VectorIndex, "open", lambda *_: FakeIndex())
    copies = paths.runtime / "recall"
    killed = _copy(copies, f"{socket.gethostname()}_{_dead_pid()}_aa")

    opened = open_replica_index(
        Settings(home=tmp_path), paths, resolve_ref(registry, "item2vec", None)
    )
    assert not killed.exists()
    assert opened.workdir is not None and opened.workdir.parent == copies
    assert f"_{os.getpid()}_" in opened.workdir.name
    opened.close()
    assert list(copies.iterdir()) == []
