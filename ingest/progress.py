"""A plain progress display on stderr: one line per phase, with the time since the start."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Phase lines such as `ingest [  2.1 s] validating 8 chunks of 2 files (63 MB)`."""

    def __init__(self, name: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self._name = name
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def phase(self, message: str) -> None:
        if self._enabled:
            self._stream.write(f"{self._name} [{self.elapsed():6.1f} s] {message}\n")
            self._stream.flush()
