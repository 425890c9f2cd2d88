"""A `starling up` process as the e2e tests see it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningApp:
    url: str
    home: Path
    log: Path
    env: dict[str, str]
    pid: int
