"""A disk that fills up in the middle of a write."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest


def fill_disk_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, `Path.write_text` writes the first half of its text, then fails as a full
    disk does (ENOSPC, "No space left on device")."""
    write = Path.write_text

    def disk_full(self: Path, data: str) -> int:
        write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
