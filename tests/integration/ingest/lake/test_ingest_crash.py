"""Killing a real `starling ingest` mid-commit leaves the lake at its last committed state."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import read_manifest
from core.tables import EVENTS
from core.writer_lock import lock_path
from ingest.lake.job import ingest_source
from ingest.synth.generate import SynthConfig, generate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[4]
CLI = (sys.executable, "-m", "cluster.cli.main", "ingest")


def _event_ids(paths: StarlingPaths) -> set[int]:
    return set(pq.read_table(paths.events, schema=EVENTS)["event_id"].to_pylist())


def _ratings(paths: StarlingPaths) -> set[tuple[int, int, int]]:
    """(user, item, epoch ms) of every rating in the lake."""
    events = pq.read_table(paths.events, schema=EVENTS).to_pandas()
    rows = events[events["event_type"] == "rating"]
    ms = rows["ts"].astype("datetime64[ms, UTC]").astype("int64")
    return set(zip(rows["user_id"], rows["item_id"], ms, strict=True))


def _kill_when(log: Path, marker: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while marker not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    # The driver and every process it started, Ray's workers included (some run in sessions
    # of their own): a worker left alive would keep writing after the rerun's recovery.
    family = [process.pid, *(p.pid for p in psutil.Process(process.pid).children(recursive=True))]
    os.killpg(process.pid, signal.SIGKILL)
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
    psutil.wait_procs([p for p in map(_alive, family) if p is not None], timeout=30)


def _alive(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def test_a_killed_ingest_leaves_the_last_commit_and_a_rerun_completes(
    ray_local: None, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    paths = StarlingPaths(settings.home)
    first = tmp_path / "first"
    first.mkdir()
    (first / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action\n")
    (first / "ratings.csv").write_text("userId,movieId,rating,timestamp\n9,1,4.0,964982703\n")
    ingest_source(settings, paths, first)
    committed = _event_ids(paths)

    big = tmp_path / "big"
    generate(SynthConfig(users=3000, items=2000, ratings=300_000), big)
    log = tmp_path / "ingest.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*CLI, "--home", str(settings.home), "--source", str(big)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        _kill_when(log, "committing the lake", process)

    manifest = read_manifest(paths.events)
    assert manifest is not None and manifest.rows["events"] == 1
    assert _event_ids(paths) == committed

    rerun = ingest_source(settings, paths, big)
    ratings = pd.read_csv(big / "ratings.csv")
    tags = len(pd.read_csv(big / "tags.csv"))
    expected = set(zip(ratings.userId, ratings.movieId, ratings.timestamp * 1000, strict=True))
    assert rerun.lake_rows == len(_event_ids(paths)) == 1 + len(ratings) + tags
    assert _ratings(paths) == expected | {(9, 1, 964982703000)}
    # No staging or half-committed folder is left; the writer lock's file stays by design.
    assert set(paths.lake.glob(".events.*")) == {lock_path(paths.events)}
