from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.s3 import s3_options, s3_root  # noqa: F401 (fixtures of these tests)


@pytest.fixture
def disk_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records, in order, each fsync (of which path) and each rename (to which path)."""
    log: list[tuple[str, str]] = []
    fsync, replace, rename = os.fsync, os.replace, os.rename

    def logged_fsync(fd: int) -> None:
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def logged_replace(src: str | Path, dst: str | Path) -> None:
        replace(src, dst)
        log.append(("rename", str(dst)))

    def logged_rename(src: str | Path, dst: str | Path) -> None:
        rename(src, dst)
        log.append(("rename", str(dst)))

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    monkeypatch.setattr(os, "rename", logged_rename)
    return log
