from __future__ import annotations

import io

from ingest.lake.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    stream = Terminal()
    with Progress("ingest", stream).bar("validating", 200e6, "MB", scale=1e6) as bar:
        bar.advance(50e6)
        bar.advance(150e6)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    final = text.rstrip("\n").split("\r")[-1]
    assert "[" + "#" * 30 + "]" in final and "100%  200/200 MB" in final


def test_a_log_gets_plain_lines_and_no_redraws() -> None:
    stream = io.StringIO()
    with Progress("ingest", stream).bar("merging months", 4, "buckets") as bar:
        for _ in range(4):
            bar.advance(1)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 1 and "merging months 100%  4/4 buckets" in lines[0]
