"""Progress on stderr: one line per phase, and a bar for the long ones.

On a terminal the bar redraws one line in place; elsewhere (a log file, CI) it prints a plain
line every few seconds instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Self, TextIO

BAR_WIDTH = 30
# How often a redirected stream gets a line, and a terminal a redraw.
LOG_EVERY_S = 5.0
DRAW_EVERY_S = 0.1


class Progress:
    """Phase lines such as `ingest [  2.1 s] validating 8 chunks of 2 files (63 MB)`."""

    def __init__(self, name: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self._name = name
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def prefix(self) -> str:
        return f"{self._name} [{self.elapsed():6.1f} s]"

    def phase(self, message: str) -> None:
        if self._enabled:
            self._stream.write(f"{self.prefix()} {message}\n")
            self._stream.flush()

    def bar(self, label: str, total: float, unit: str = "", scale: float = 1.0) -> ProgressBar:
        """A bar for `total` units of work (shown divided by `scale`, e.g. bytes as MB)."""
        terminal = self._stream.isatty() if hasattr(self._stream, "isatty") else False
        return ProgressBar(self, label, total, unit, scale, terminal and self._enabled)

    def write(self, text: str) -> None:
        if self._enabled:
            self._stream.write(text)
            self._stream.flush()


class ProgressBar:
    """Work done out of a known total; `advance` as pieces finish, close (or `with`) at the end."""

    def __init__(
        self, owner: Progress, label: str, total: float, unit: str, scale: float, terminal: bool
    ) -> None:
        self._owner = owner
        self._label = label
        self._total = max(total, 0.0)
        self._unit = unit
        self._scale = scale
        self._terminal = terminal
        self._done = 0.0
        self._started = time.perf_counter()
        self._shown_at = self._started
        if terminal:
            self._draw()

    @property
    def done(self) -> float:
        return self._done

    def advance(self, amount: float) -> None:
        self._done += amount
        now = time.perf_counter()
        if now - self._shown_at >= (DRAW_EVERY_S if self._terminal else LOG_EVERY_S):
            self._shown_at = now
            if self._terminal:
                self._draw()
            else:
                self._owner.phase(self.line())

    def line(self) -> str:
        """`label  45%  300/650 MB  12.0 MB/s`."""
        share = self._done / self._total if self._total else 1.0
        seconds = max(time.perf_counter() - self._started, 1e-9)
        rate = self._done / self._scale / seconds
        unit = f" {self._unit}" if self._unit else ""
        return (
            f"{self._label} {share:4.0%}  {self._done / self._scale:,.0f}/"
            f"{self._total / self._scale:,.0f}{unit}  {rate:,.1f}{unit}/s"
        )

    def _draw(self) -> None:
        share = min(self._done / self._total, 1.0) if self._total else 1.0
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._owner.write(f"\r{self._owner.prefix()} [{bar}] {self.line()}\033[K")

    def close(self) -> None:
        if self._terminal:
            self._draw()
            self._owner.write("\n")
        else:
            self._owner.phase(self.line())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
