"""Files read in bounded pieces: too-long lines, gzip bombs, and files that grow meanwhile."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from ingest.lake.chunks import changed_since_planned, plan_file
from ingest.lake.line_pieces import read_pieces
from ingest.lake.parse_chunk import LINE_TOO_LONG, check_pieces
from ingest.lake.sources.event_log import EventLogOptions, plan_event_log
from ingest.lake.validate import REASON, EventRules

RULES = EventRules(now_ms=1_700_000_000_000)
ROOT = Path(__file__).parents[4]


def _pieces(data: bytes, piece_bytes: int, max_line: int) -> tuple[bytes, list[tuple[int, int]]]:
    """The pieces' text joined, and each too-long line as (line number in the text, length)."""
    text, long, lines = b"", [], 0
    for piece in read_pieces(io.BytesIO(data), piece_bytes, max_line):
        long += [(lines + x.line, x.length) for x in piece.long_lines]
        text += piece.data
        lines += piece.data.count(b"\n")
    return text, long


def test_too_long_lines_are_emptied_wherever_they_fall() -> None:
    data = b"a\n" + b"x" * 25 + b"\nb\r\n" + b"y" * 40 + b"\nc\n" + b"z" * 30
    for piece_bytes in (1, 3, 7, 16, 1000):
        text, long = _pieces(data, piece_bytes, max_line=10)
        assert text == b"a\n\nb\r\n\nc\n", piece_bytes
        assert long == [(2, 25), (4, 40), (6, 30)], piece_bytes
    assert _pieces(b"a\nb", 1, 10) == (b"a\nb", [])


def test_pieces_hold_a_bounded_number_of_lines() -> None:
    data = b"a\n" * 10 + b"x" * 20 + b"\nb\n"
    pieces = list(read_pieces(io.BytesIO(data), 1000, max_line=10, max_lines=3))
    assert [p.data.count(b"\n") for p in pieces] == [3, 3, 3, 3]
    assert b"".join(p.data for p in pieces) == b"a\n" * 10 + b"\nb\n"
    assert [(p.long_lines[0].line, p.long_lines[0].length) for p in pieces[3:]] == [(2, 20)]


def test_a_huge_line_is_quarantined_and_the_lines_around_it_land(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(b"user,item,ts\n1,2,964982703\n" + b"7" * (3 << 20) + b"\n3,4,964982704\n")
    rows = pa.concat_tables(
        piece.rows
        for chunk in plan_file(plan_event_log(log, EventLogOptions())).chunks
        for piece in check_pieces(chunk, RULES)
    )
    assert rows[REASON].to_pylist() == [None, None, LINE_TOO_LONG]
    assert rows["line"].to_pylist() == [2, 4, 3]
    assert rows["raw"][2].as_py().endswith(f"… ({3 << 20} bytes)")


def test_a_gzip_bomb_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """300 MiB of one line in a 300 KiB gzip: stage one peaks at 186 MiB here (1.6 GiB before
    it read files in pieces; 133 MiB for no bomb at all), as much as for a 1000 MiB bomb."""
    probe = [sys.executable, "-m", "tests.support.gzip_bomb", str(tmp_path), "300"]
    done = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=120)
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["rows"] == 3 and outcome["errors"] == [None]
    assert outcome["reasons"] == [[3, LINE_TOO_LONG]]
    assert outcome["peak_mib"] < 400


def test_a_file_that_grows_keeps_its_planned_prefix(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user,item,ts\n1,2,964982703\n")
    plan = plan_file(plan_event_log(log, EventLogOptions()))
    with log.open("a") as out:
        out.write("3,4,964982704\n5,6,9649")
    assert changed_since_planned(plan) is None
    rows = pa.concat_tables(p.rows for c in plan.chunks for p in check_pieces(c, RULES))
    assert rows["user_id"].to_pylist() == [1]  # the rest is for the next run


def test_a_file_changed_mid_line_or_rewritten_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user,item,ts\n1,2,9649")  # a writer is in the middle of a line
    plan = plan_file(plan_event_log(log, EventLogOptions()))
    with log.open("a") as out:
        out.write("82703\n")
    assert "changed while being ingested" in (changed_since_planned(plan) or "")

    log.write_text("user,item,ts\n1,2,964982703\n3,4,964982704\n")
    plan = plan_file(plan_event_log(log, EventLogOptions()))
    log.write_text("user,item,ts\n")
    assert "changed while being ingested" in (changed_since_planned(plan) or "")
