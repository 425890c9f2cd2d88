"""`starling ingest` killed (SIGKILL) at 20 random points, then run to the end: each kill leaves
the lake at its last commit, and the finished lake holds every input event exactly once, the
quarantine every bad row once and no good one, and no temporary folder is left beside them.

The runs share one `ray start --head` cluster, as runs with RAY_ADDRESS do: a kill ends the
driver, and Ray then ends its tasks, which may still be writing as the next run recovers.
About 2 minutes on two cores."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from core.event_key import text_keys
from core.paths import StarlingPaths
from core.storage import read_manifest
from core.tables import EVENTS
from core.writer_lock import lock_path
from ingest.lake.versions import ingested_sources
from tests.support.ray_head import HeadCluster, ray_head  # noqa: F401 (a fixture of this test)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
CLI = (sys.executable, "-m", "cluster.cli.main", "ingest", "--map", "event_id=event_id,value=value")
SEED = 20
KILLS_PER_PHASE = 5
# The log line that opens each phase after start-up (the merge's bar prints its line as the
# merge ends); a kill aimed at a phase waits for its line, then for a random share of the
# phase's length in the calibration run.
PHASES = {
    "start-up": None,
    "staging chunks": "chunk(s) of",
    "merging months": "committing the lake",
    "committing": "merging months",
}
DONE = "done in"
# Rows of each log file: 9 MB and 3 MB (a chunk each), ~120 months in four buckets. A run takes
# ~5 s on two idle cores, most of it start-up and staging; more rows only lengthen every kill.
ROWS = (260_000, 80_000)
EARLY_ROWS = 2_000
TIMEOUT_S = 240


class Input(NamedTuple):
    big: Path
    early: Path
    good: np.ndarray  # lake keys of every good event, once each
    early_keys: np.ndarray
    bad: set[tuple[str, int]]  # (file name, line) of every bad row


def _write_input(folder: Path) -> Input:
    """Event log files with a few bad rows at their ends, and an early log that delivered the
    first rows of the first file before: those must still land once."""
    rng = np.random.default_rng(SEED)
    big, early = folder / "big", folder / "early"
    big.mkdir()
    early.mkdir()
    ids, bad = [], set()
    for number, rows in enumerate(ROWS):
        text = [f"e{number}-{row}" for row in range(rows)]
        table = pa.table(
            {
                "event_id": text,
                "user": rng.integers(1, 50_000, rows),
                "item": rng.integers(1, 5_000, rows),
                "ts": rng.integers(1_420_070_400, 1_735_689_600, rows),  # 2015-2024
                "value": rng.integers(1, 11, rows) / 2,
            }
        )
        path = big / f"log-{number}.csv"
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
        with path.open("a") as out:
            out.write(f"x{number}-0,7,not-an-id,1500000000,3\nx{number}-1,7,8,1500000000,9.5\n")
        # The header is line 1, so the two bad rows are the file's last two lines.
        bad |= {(path.name, rows + 2), (path.name, rows + 3)}
        ids += text
        if number == 0:
            pacsv.write_csv(
                table.slice(0, EARLY_ROWS),
                early / "early.csv",
                pacsv.WriteOptions(quoting_style="none"),
            )
    early_keys = text_keys(ids[:EARLY_ROWS])
    return Input(big, early, np.sort(text_keys(ids)), np.sort(early_keys), bad)


class Ingests:
    """`starling ingest` runs, each logging to a file of its own, against the module's Ray
    cluster: a Ray of each run's own would add ~8 s of start-up to every kill."""

    def __init__(self, head: HeadCluster, logs: Path) -> None:
        self.env = {**os.environ, "RAY_ADDRESS": head.gcs, "RAY_AUTH_MODE": "token"}
        self.logs = logs
        self.runs = 0

    def start(self, home: Path, source: Path) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.logs / f"ingest-{self.runs:02d}.log"
        self.runs += 1
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [*CLI, "--home", str(home), "--source", str(source)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        return process, log

    def finish(self, home: Path, source: Path) -> list[float]:
        """Run an ingest to its end; the seconds from its start to each phase's line and to
        the end line, of those it printed (one with nothing new to ingest skips the phases)."""
        started = time.monotonic()
        process, log = self.start(home, source)
        times = [
            time.monotonic() - started
            for marker in [*filter(None, PHASES.values()), DONE]
            if _watch(marker, log, process, TIMEOUT_S)
        ]
        assert process.wait(timeout=TIMEOUT_S) == 0, log.read_text()
        return times

    def kill(self, home: Path, source: Path, phase: str, seconds: float) -> tuple[str, Path]:
        """Start an ingest, SIGKILL it `seconds` into `phase` or as the next phase opens,
        whichever comes first; the last phase its log shows it reached ("finished" when it
        committed first) and its log."""
        process, log = self.start(home, source)
        opening = PHASES[phase]
        following = [*PHASES.values(), DONE][list(PHASES).index(phase) + 1]
        assert following is not None
        if opening is None or _watch(opening, log, process, TIMEOUT_S):
            _watch(following, log, process, seconds)
        # The driver only: the workers are the cluster's, and Ray ends a dead driver's tasks
        # itself (a task still writing then is one that the next run's recovery must cope with).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        text = log.read_text(errors="replace")
        if DONE in text:
            return "finished", log
        return [name for name, line in PHASES.items() if line is None or line in text][-1], log


def _watch(marker: str, log: Path, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether `marker` showed in the log before the process ended and `seconds` passed."""
    deadline = time.monotonic() + seconds
    while marker not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() >= deadline:
            return marker in log.read_text(errors="replace")
        time.sleep(0.01)
    return True


def _lake_keys(paths: StarlingPaths) -> np.ndarray:
    """Every event_id in the committed lake, sorted, repeats kept; the manifest counts them."""
    manifest = read_manifest(paths.events)
    assert manifest is not None
    keys = np.sort(pq.read_table(paths.events, columns=["event_id"], schema=EVENTS)[0].to_numpy())
    assert manifest.rows["events"] == len(keys)
    return keys


def test_twenty_killed_ingests_then_one_finished_land_each_event_once(
    ray_head: HeadCluster,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    given = _write_input(tmp_path)
    paths = StarlingPaths(tmp_path / "home")
    ingests = Ingests(ray_head, tmp_path)
    # How long each phase takes here and now, from a run into a home of its own.
    marks = ingests.finish(tmp_path / "calibration", given.big)
    assert len(marks) == len(PHASES)
    lengths = dict(zip(PHASES, np.diff([0.0, *marks]), strict=True))
    ingests.finish(paths.home, given.early)
    assert np.array_equal(_lake_keys(paths), given.early_keys)

    # From just after the start to near the end, phase by phase: once a kill comes after the
    # commit, the runs after it have nothing left to do.
    chance = random.Random(SEED)
    plan = [
        (phase, share)
        for phase in PHASES
        for share in sorted(chance.uniform(0.02, 0.98) for _ in range(KILLS_PER_PHASE))
    ]
    reached = []
    for phase, share in plan:
        hit, log = ingests.kill(paths.home, given.big, phase, share * lengths[phase])
        reached.append(hit)
        keys = _lake_keys(paths)
        # A kill leaves the last commit: the early events, or all of them once a run committed.
        assert np.array_equal(keys, given.early_keys) or np.array_equal(keys, given.good), (
            phase,
            share,
            log.read_text(),
        )
    print(f"phase lengths {lengths}; aimed at / reached: {list(zip(plan, reached, strict=True))}")
    # Each kill waits for its phase's line and stops at the next one's, so each phase had one.
    assert set(PHASES) <= set(reached), reached

    ingests.finish(paths.home, given.big)
    assert np.array_equal(_lake_keys(paths), given.good)
    expected_sources = {*given.big.glob("*.csv"), *given.early.glob("*.csv")}
    assert set(ingested_sources(paths.events)) == {str(p.resolve()) for p in expected_sources}
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert sorted((Path(r["source"]).name, r["line"]) for r in quarantine) == sorted(given.bad)
    assert all(r["reason"] for r in quarantine)
    # No staging, half-committed or set-aside folder is left; the writer lock's file stays by
    # design. Readers skip dot-files, but they would pile up over many kills.
    assert set(paths.lake.glob(".events.*")) == {lock_path(paths.events)}
    assert not [p for p in paths.quarantine.iterdir() if p.name.startswith(".")]
