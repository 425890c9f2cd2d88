"""A corpus of hostile event files through a real ingest: it ends normally, every good row
lands, every bad one is quarantined with its reason, and no process holds a gzip bomb."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.paths import StarlingPaths
from core.settings import Settings
from core.tables import EVENTS
from ingest.lake.job import ingest_source
from ingest.lake.parse_chunk import LINE_TOO_LONG
from ingest.lake.progress import Progress
from ingest.lake.sources.event_log import EventLogOptions, parse_mapping
from tests.support.gzip_bomb import write_gzip_bomb

pytestmark = pytest.mark.integration

OPTIONS = EventLogOptions(mapping=parse_mapping("type=type,value=value"))
HEADER = "user,item,ts,type,value\n"
BIG = 2**53 + 1  # float64 cannot hold it
BOMB_MIB = 300


def _corpus(folder: Path) -> None:
    folder.mkdir()
    crlf = "\ufeff" + HEADER + "1,100,964982703,click,\n2,100,964982704,rating,4.5\n"
    (folder / "bom_crlf.csv").write_bytes(crlf.replace("\n", "\r\n").encode())
    (folder / "quoted.csv").write_text(
        HEADER + '3,100,964982705,"view",\n4,100,964982706,"click","1\n2"\n'
    )
    (folder / "latin1.csv").write_bytes((HEADER + "5,100,964982707,clické,\n").encode("latin-1"))
    (folder / "columns.csv").write_text("user,item\n6,100\n")
    huge = "x" * (2 << 20)
    (folder / "huge_line.csv").write_text(
        HEADER + f"7,100,964982708,click,\n{huge}\n8,100,964982709,click,\n"
    )
    (folder / "ranges.csv").write_text(
        HEADER
        + "9,100,-100000000000000,click,\n"  # -1e14 s
        + "9,100,-5000000000,click,\n"  # 1811
        + "9,100,100000000000000,click,\n"  # year 3170000
        + "99999999999999999999,100,964982710,click,\n"
        + f"{BIG},100,964982711,click,\n"
        + "10,100,964982712,click,1e39\n"
        + "10,100,964982713,rating,1e39\n"
        + "10,100,964982714,click,inf\n"
    )
    jsonl = (
        '\ufeff{"user": 11, "item": 100, "ts": 964982715, "type": "view"}\r\n'
        '{"user": 99999999999999999999, "item": 100, "ts": 964982716, "type": "view"}\r\n'
        '{"user": 12, "ts": 964982717, "type": "view"}\r\n'
        '{"user": 9223372036854775807, "item": 100, "ts": 964982718, "type": "view"}\r\n'
        '{"user": 13, "item": 100, "ts": 964982719, "type": "click", "value": 1e39}\r\n'
    )
    (folder / "events.jsonl").write_bytes(jsonl.encode())
    stamps = [964982720500, -30_000_000_000_000, 964982721000]  # ms: a fraction; year 1019
    table = pa.table(
        {
            "user": pa.array([14, 15, 2**63 + 1], pa.uint64()),
            "item": [100, 100, 100],
            "ts": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
            "type": ["click"] * 3,
            "value": [None, None, None],
        },
        schema=pa.schema(
            [
                ("user", pa.uint64()),
                ("item", pa.int64()),
                ("ts", pa.timestamp("ms", tz="UTC")),
                ("type", pa.string()),
                ("value", pa.float64()),
            ]
        ),
    )
    pq.write_table(table, folder / "events.parquet")
    before = (HEADER + "16,100,964982722,click,\n").encode()
    write_gzip_bomb(folder / "bomb.csv.gz", BOMB_MIB, before, b"17,100,964982723,click,\n")


@contextmanager
def _peak_rss() -> Iterator[list[int]]:
    """The most RSS any one process of this test's tree (driver and Ray workers) gained while
    the block runs, sampled every 20 ms, in MiB: growth, not size, since in a whole suite's
    run the driver already holds what earlier tests loaded."""
    peak, done = [0], threading.Event()
    me = psutil.Process()
    before: dict[int, int] = {}
    for process in [me, *me.children(recursive=True)]:
        with suppress(psutil.Error):
            before[process.pid] = process.memory_info().rss >> 20

    def sample() -> None:
        while not done.wait(0.02):
            for process in [me, *me.children(recursive=True)]:
                with suppress(psutil.Error):
                    grown = (process.memory_info().rss >> 20) - before.get(process.pid, 0)
                    peak[0] = max(peak[0], grown)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def test_hostile_corpus(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "logs"
    _corpus(source)
    settings = Settings(home=tmp_path / "home")
    paths = StarlingPaths(settings.home)
    with _peak_rss() as peak:
        summary = ingest_source(settings, paths, source, OPTIONS, Progress("t", enabled=False))

    assert {Path(p).name: why for p, why in summary.unreadable_files.items()} == {
        "columns.csv": "missing columns ts, type, value",
        "latin1.csv": "unreadable file: not utf-8 text (invalid continuation byte)",
    }
    events = pq.read_table(paths.events, schema=EVENTS)
    assert sorted(events["user_id"].to_pylist()) == sorted(
        [1, 2, 3, 7, 8, BIG, 11, 2**63 - 1, 14, 16, 17]
    )
    landed = {row["user_id"]: row for row in events.to_pylist()}
    assert landed[14]["ts"].timestamp() == 964982720.5
    assert landed[BIG]["item_id"] == 100
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert {(Path(q["source"]).name, q["line"], q["reason"]) for q in quarantine} == {
        ("quoted.csv", 3, "malformed line: unpaired quote"),
        ("quoted.csv", 4, "malformed line: 1 fields, expected 5"),
        ("huge_line.csv", 3, LINE_TOO_LONG),
        ("ranges.csv", 2, "timestamp before 1900"),
        ("ranges.csv", 3, "timestamp before 1900"),
        ("ranges.csv", 4, "timestamp in the future"),
        ("ranges.csv", 5, "id beyond int64"),
        ("ranges.csv", 7, "value beyond float32"),
        ("ranges.csv", 8, "rating out of range"),
        ("ranges.csv", 9, "value not a number"),
        ("events.jsonl", 2, "id beyond int64"),
        ("events.jsonl", 3, "missing field"),
        ("events.jsonl", 5, "value beyond float32"),
        ("events.parquet", 2, "timestamp before 1900"),
        ("events.parquet", 3, "id beyond int64"),
        ("bomb.csv.gz", 3, LINE_TOO_LONG),
    }
    assert summary.accepted == len(landed) and sum(summary.quarantined.values()) == 16
    # 278 MiB here; before pieces, the task held the bomb whole: 1.6 GiB for these 300 MiB.
    assert peak[0] < 1024, peak[0]


class _GrowDuringIngest(Progress):
    """Appends to a file once its ingest has planned it, as a writer still logging would."""

    def __init__(self, path: Path, text: str) -> None:
        super().__init__("t", enabled=False)
        self.path, self.text = path, text

    def phase(self, message: str) -> None:
        if message.startswith("validating") and self.text:
            with self.path.open("a") as out:
                out.write(self.text)
            self.text = ""
        super().phase(message)


def test_a_file_growing_during_ingest_loses_nothing(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "logs"
    source.mkdir()
    log = source / "live.csv"
    log.write_text(HEADER + "1,100,964982703,click,\n")
    settings = Settings(home=tmp_path / "home")
    paths = StarlingPaths(settings.home)

    grow = _GrowDuringIngest(log, "2,100,964982704,click,\n3,100,9649")
    first = ingest_source(settings, paths, source, OPTIONS, grow)
    assert (first.accepted, first.unreadable_files) == (1, {})
    # The writer finishes its line; the next run reads the rest.
    with log.open("a") as out:
        out.write("82705,click,\n")
    second = ingest_source(settings, paths, source, OPTIONS, Progress("t", enabled=False))
    assert (second.accepted, second.duplicates, second.lake_rows) == (3, 1, 3)

    torn = source / "torn.csv"
    torn.write_text(HEADER + "4,100,9649")  # planned while a line is half written
    grow = _GrowDuringIngest(torn, "82706,click,\n")
    third = ingest_source(settings, paths, source, OPTIONS, grow)
    assert "changed while being ingested" in third.unreadable_files[str(torn)]
    assert third.lake_rows == 3
    fourth = ingest_source(settings, paths, source, OPTIONS, Progress("t", enabled=False))
    assert (fourth.accepted, fourth.lake_rows) == (1, 4)
