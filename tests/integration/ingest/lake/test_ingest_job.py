from __future__ import annotations

import gzip
import shutil
import threading
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import fingerprint
from core.tables import EVENTS
from core.writer_lock import writer_lock
from ingest.lake import chunks
from ingest.lake.job import ingest_source
from ingest.lake.sources.event_log import EventLogOptions, parse_mapping
from ingest.synth.generate import SynthConfig, generate

pytestmark = pytest.mark.integration

HEADER = "uid,sku,time,action,amount\n"
OPTIONS = EventLogOptions(
    mapping=parse_mapping("user=uid,item=sku,ts=time,type=action,value=amount")
)


def _home(tmp_path: Path) -> tuple[Settings, StarlingPaths]:
    settings = Settings(home=tmp_path / "home")
    return settings, StarlingPaths(settings.home)


def test_movielens_small_lands_whole_and_once(
    ray_local: None, movielens_small: Path, tmp_path: Path
) -> None:
    settings, paths = _home(tmp_path)
    first = ingest_source(settings, paths, movielens_small)
    assert (first.rows_read, first.accepted, first.lake_rows) == (104_519, 104_519, 104_519)
    assert (first.quarantined, first.unreadable_files) == ({}, {})
    assert first.items == 9_742
    events = pq.read_table(paths.events, schema=EVENTS)
    ratings = events.filter(pc.equal(events["event_type"], "rating"))
    assert ratings.num_rows == 100_836
    assert len(set(ratings["user_id"].to_pylist())) == 610
    assert events.num_rows - ratings.num_rows == 3_683  # tags.csv

    again = ingest_source(settings, paths, movielens_small)
    assert len(again.skipped_files) == 2 and again.lake_rows == 104_519


def test_a_moved_home_knows_the_files_of_its_own_it_ingested(
    ray_local: None, tmp_path: Path
) -> None:
    """The synthetic set lives in the home: moved elsewhere, the home ingests nothing again, so
    its lake, and all that was built and trained from it, stays as it was."""
    settings, paths = _home(tmp_path)
    generate(SynthConfig(users=20, items=30, ratings=400), paths.data_dir)
    first = ingest_source(settings, paths, paths.data_dir)
    assert first.accepted > 0
    moved = StarlingPaths(tmp_path / "moved")
    shutil.copytree(paths.home, moved.home)
    lake = fingerprint(moved.events)
    again = ingest_source(settings.model_copy(update={"home": moved.home}), moved, moved.data_dir)
    assert again.rows_read == 0 and len(again.skipped_files) == 2  # ratings and tags
    assert fingerprint(moved.events) == lake


def test_bad_rows_are_quarantined_and_good_rows_land(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "ml"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action|Crime\n")
    (source / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,964982703\n"
        "2,1,7,964982703\n"
        "-3,1,3.0,964982703\n"
        "abc,1,3.0,964982703\n"
        "4,1,2.5\n"
        "4,1,2.5,964982704\n"
    )
    settings, paths = _home(tmp_path)
    summary = ingest_source(settings, paths, source)
    assert summary.accepted == 2
    assert summary.quarantined == {
        "rating out of range": 1,
        "negative id": 1,
        "user id not an integer": 1,
        "malformed line: 3 fields, expected 4": 1,
    }
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert {(row["line"], row["raw"]) for row in quarantine} == {
        (3, "2,1,7,964982703"),
        (4, "-3,1,3.0,964982703"),
        (5, "abc,1,3.0,964982703"),
        (6, "4,1,2.5"),
    }
    assert {row["source"] for row in quarantine} == {str(source / "ratings.csv")}

    # The same rows again under a new file name: nothing is added twice.
    shutil.copy(source / "ratings.csv", tmp_path / "ratings.bak")
    grown = (tmp_path / "ratings.bak").read_text() + "5,1,5.0,964982705\n"
    (source / "ratings.csv").write_text(grown)
    again = ingest_source(settings, paths, source)
    assert (again.accepted, again.duplicates, again.lake_rows) == (3, 2, 3)


def test_bad_lines_in_a_file_of_many_chunks_are_quarantined_with_the_files_line_numbers(
    ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 100)  # planning runs here, in the driver
    source = tmp_path / "ml"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action|Crime\n")
    lines = [f"{user},1,4.0,964982703" for user in range(1, 301)]
    bad = {57: "57,1,9.5,964982703", 158: "158,1", 299: "299,1,4.0,tomorrow"}
    for number, text in bad.items():
        lines[number - 2] = text  # line 1 is the header
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "\n".join(lines))
    settings, paths = _home(tmp_path)

    summary = ingest_source(settings, paths, source)

    assert summary.accepted == 300 - len(bad)
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert {row["line"]: row["raw"] for row in quarantine} == bad


def _logs(folder: Path) -> None:
    folder.mkdir()
    (folder / "good.csv").write_text(
        HEADER
        + "1,10,964982703,rating,4.0\n"
        + "1,11,964982704,click,\n"
        + "2,10,964982705,view,\n"
    )
    (folder / "mixed.csv").write_text(
        HEADER
        + "3,10,964982706,rating,7\n"  # a rating of 7
        + "3,11,964982707\n"  # truncated line
        + "x,11,964982708,click,\n"  # wrong type
        + "-4,11,964982709,click,\n"  # negative id
        + "5,12,964982710,purchase,\n"  # unknown type
        + "5,13,964982711,rating,3.5\n"
    )
    (folder / "copy.csv").write_text((folder / "good.csv").read_text())  # a duplicate file
    (folder / "empty.csv").write_text("")
    (folder / "columns.csv").write_text("uid,sku\n1,10\n")
    (folder / "latin1.csv").write_bytes((HEADER + "6,14,964982712,clické,\n").encode("latin-1"))
    data = gzip.compress((HEADER + "7,15,964982713,click,\n" * 3000).encode())
    (folder / "cut.csv.gz").write_bytes(data[: len(data) // 2])


def test_every_bad_input_is_quarantined_or_reported(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "logs"
    _logs(source)
    settings = Settings(home=tmp_path / "home")
    paths = StarlingPaths(settings.home)
    first = ingest_source(settings, paths, source, OPTIONS)

    assert first.kind == "event-log"
    assert {Path(p).name: reason for p, reason in first.unreadable_files.items()} == {
        "empty.csv": "empty file",
        "columns.csv": "missing columns time, action, amount",
        "latin1.csv": "unreadable file: not utf-8 text (invalid continuation byte)",
        "cut.csv.gz": "unreadable file: Compressed file ended before the end-of-stream marker "
        "was reached",
    }
    assert first.quarantined == {
        "rating out of range": 1,
        "malformed line: 3 fields, expected 5": 1,
        "user id not an integer": 1,
        "negative id": 1,
        "unknown event type": 1,
    }
    assert (first.rows_read, first.accepted, first.duplicates, first.lake_rows) == (12, 7, 3, 4)
    events = pq.read_table(paths.events, schema=EVENTS).to_pylist()
    assert {(e["user_id"], e["item_id"], e["event_type"]) for e in events} == {
        (1, 10, "rating"),
        (1, 11, "click"),
        (2, 10, "view"),
        (5, 13, "rating"),
    }
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert {(Path(q["source"]).name, q["line"]) for q in quarantine} == {
        ("mixed.csv", n) for n in range(2, 7)
    }

    # Ingesting again changes nothing; a fixed file and a new file are picked up alone.
    lake_before = sorted(p.name for p in paths.events.rglob("*.parquet"))
    again = ingest_source(settings, paths, source, OPTIONS)
    assert (again.rows_read, again.lake_rows) == (0, 4)
    assert len(again.skipped_files) == 3
    assert sorted(p.name for p in paths.events.rglob("*.parquet")) == lake_before
    (source / "columns.csv").write_text(HEADER + "8,16,964982714,click,\n")
    (source / "new.jsonl").write_text(
        '{"uid": 9, "sku": 17, "time": 964982715, "action": "impression"}\n'
    )
    grown = ingest_source(settings, paths, source, OPTIONS)
    assert (grown.rows_read, grown.accepted, grown.lake_rows) == (2, 2, 6)


def test_an_ingest_waits_for_a_writer_that_holds_the_lake(
    ray_local: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "ml"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action|Crime\n")
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    settings, paths = _home(tmp_path)
    summaries = []
    with writer_lock(paths.events):  # what a running `starling events consume` holds
        run = threading.Thread(
            target=lambda: summaries.append(ingest_source(settings, paths, source))
        )
        run.start()
        deadline = time.monotonic() + 30
        while "waiting for it to finish" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "another command is writing" in caplog.text
        assert run.is_alive() and not paths.events.exists()
    run.join(timeout=120)
    assert summaries[0].accepted == 1 and summaries[0].lake_rows == 1
