"""The whole system at MovieLens-25M scale: each step's wall time, CPU time and peak memory.

Usage:
    .venv/bin/python bench/scale.py                        # 25M ratings, 162k users, 62k items
    .venv/bin/python bench/scale.py --ratings 200000 --users 2000 --items 1500 --data /tmp/s

Steps, in one fresh home on a synthetic set shaped like ml-25m (`starling data synth`, made
once into --data and reused): the bare pyarrow CSV -> Parquet conversion (the I/O floor that
ingest is compared with), `starling ingest`, `starling features`, `starling train recall`,
`starling train rank` (--rank-epochs, 1 by default: one epoch over ~60M samples already takes
most of the run on 2 cores), `starling serve` until it answers, then against the running app
`bench/serve.py` (latency at --rates beside the same pipeline in one process) and
`bench/online.py --learn` (read-your-writes, trending delay, one online update and its swaps).
The serving steps count the app's processes' CPU and memory with their own.

Each step's row is written to --result as soon as it ends, so a run stopped part-way (a step
past --step-timeout is stopped and reported as such) still leaves what it measured;
`--start-at STEP` goes on from a step in the same --work home, appending to --result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
from ingest_speed import ensure_data
from machine import machine_line
from process_tree import RunFigures, run_measured
from ray_nodes import stop_group

BENCH = Path(__file__).resolve().parent
STARLING = [sys.executable, "-m", "cluster.cli.main"]
WRITE_KEY = "scale-bench-write"
ADMIN_KEY = "scale-bench-admin"
UP_LINE = "Starling is up at"
FLOOR = "pyarrow csv->parquet (floor)"
INGEST = "starling ingest"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/starling-bench/ml-25m-synth"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/starling-bench/scale"))
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--users", type=int, default=162_000)
    parser.add_argument("--items", type=int, default=62_000)
    parser.add_argument("--rank-epochs", type=int, default=1)
    parser.add_argument("--rates", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=30.0, help="each load phase's length")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument(
        "--start-at",
        choices=["ingest", "features", "recall", "rank", "serve"],
        default="ingest",
        help="skip the steps before this one, reusing --work's home, and append to --result",
    )
    parser.add_argument("--step-timeout", type=float, default=3600.0)
    parser.add_argument("--result", type=Path, default=BENCH / "results" / "scale.txt")
    return parser


class Report:
    """The result file, written line by line as the run goes."""

    def __init__(self, path: Path, logs: Path, append: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.logs = logs
        if not append:
            path.write_text("")

    def line(self, text: str = "") -> None:
        with self.path.open("a") as out:
            out.write(text + "\n")
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def step(self, name: str, figures: RunFigures, note: str = "") -> None:
        state = " (stopped)" if figures.timed_out else ""
        state += f" (exit {figures.returncode})" if figures.returncode and not state else ""
        self.line(
            f"{name + state:<34} {figures.seconds:>9.1f} {figures.cpu_seconds:>9.1f} "
            f"{figures.peak_pss_gib:>9.2f} {figures.peak_rss_gib:>9.2f}  {note}"
        )


def _step(
    report: Report,
    name: str,
    command: list[str],
    env: dict[str, str],
    timeout_s: float,
    cluster: psutil.Process | None = None,
    note: str = "",
) -> RunFigures:
    # The previous step's files are still being written back to disk otherwise.
    os.sync()
    figures = run_measured(command, env=env, timeout_s=timeout_s, cluster=cluster)
    report.step(name, figures, note)
    (report.logs / f"{re.sub(r'[^A-Za-z0-9]+', '_', name)}.log").write_text(figures.output)
    if figures.returncode != 0 or figures.timed_out:
        report.line(f"# {name} did not finish; its output ends:")
        for text in figures.output.strip().splitlines()[-15:]:
            report.line(f"#   {text}")
        raise SystemExit(1)
    return figures


@contextlib.contextmanager
def serving(
    report: Report, env: dict[str, str], timeout_s: float
) -> Iterator[tuple[str, psutil.Process]]:
    """`starling serve` on the home until it answers: (its URL, its process), stopped after."""
    log = Path(env["STARLING_HOME"]) / "scale-serve.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            [*STARLING, "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = started + timeout_s
        while UP_LINE not in log.read_text():
            if process.poll() is not None or time.perf_counter() > deadline:
                report.line(
                    f"# starling serve did not come up; its log ends:\n{log.read_text()[-3000:]}"
                )
                raise SystemExit(1)
            time.sleep(1)
        report.line(f"{'serve until it answers':<34} {time.perf_counter() - started:>9.1f}")
        yield f"http://127.0.0.1:{env['STARLING_HTTP_PORT']}", psutil.Process(process.pid)
    finally:
        stop_group(process, signal.SIGINT, 60)


def _offline_steps(args: argparse.Namespace) -> list[tuple[str, str, list[str], str]]:
    """(key for --start-at, row name, command, note) of each step before serving."""
    floor = [sys.executable, str(BENCH / "bare_convert.py")]
    return [
        (
            "ingest",
            FLOOR,
            [*floor, str(args.data / "ratings.csv"), str(args.work / "floor.pq")],
            "",
        ),
        ("ingest", INGEST, [*STARLING, "ingest", "--source", str(args.data)], ""),
        ("features", "starling features", [*STARLING, "features"], ""),
        ("recall", "starling train recall", [*STARLING, "train", "recall"], ""),
        (
            "rank",
            "starling train rank",
            [*STARLING, "train", "rank"],
            f"{args.rank_epochs} epoch(s)",
        ),
    ]


def _serve_and_load(
    report: Report, args: argparse.Namespace, env: dict[str, str], home: Path
) -> None:
    """The app on the home, measured under bench/serve.py's load and bench/online.py's loop."""
    timeout = args.step_timeout
    with serving(report, env, timeout) as (url, app):
        rates = [str(rate) for rate in args.rates]
        load = [
            sys.executable,
            str(BENCH / "serve.py"),
            "--url",
            url,
            "--home",
            str(home),
            "--rates",
            *rates,
            "--seconds",
            str(args.seconds),
            "--out",
            str(args.work),
        ]
        served = _step(report, "bench/serve.py against the app", load, env, timeout, app)
        online = [
            sys.executable,
            str(BENCH / "online.py"),
            "--url",
            url,
            "--write-key",
            WRITE_KEY,
            "--admin-key",
            ADMIN_KEY,
            "--rate",
            "20",
            "--seconds",
            str(args.seconds),
            "--bursts",
            "5",
            "--users",
            str(args.users),
            "--learn",
            "--swaps",
            "2",
        ]
        learnt = _step(report, "bench/online.py --learn", online, env, timeout, app)
    for name, figures in (("bench/serve.py", served), ("bench/online.py --learn", learnt)):
        report.line(f"\n## {name} output")
        report.line(figures.output.strip())


def main() -> None:
    args = _parser().parse_args()
    resuming = args.start_at != "ingest"
    report = Report(args.result, args.work.with_name(args.work.name + "-logs"), append=resuming)
    report.line(
        f"# bench/scale.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.ratings:,} ratings, "
        f"{args.users:,} users, {args.items:,} items (synthetic, {args.data})"
        + (f"; from {args.start_at} on, in the home of the run above" if resuming else "")
    )
    report.line(machine_line())
    synth_started = time.perf_counter()
    ensure_data(args)
    report.line(f"# the synthetic set: ready in {time.perf_counter() - synth_started:.0f} s")
    if not resuming:
        shutil.rmtree(args.work, ignore_errors=True)
        shutil.rmtree(report.logs, ignore_errors=True)
    report.logs.mkdir(parents=True, exist_ok=True)
    home = args.work / "home"
    args.work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "STARLING_HOME": str(home),
        "STARLING_HTTP_PORT": str(args.port),
        "STARLING_RANK__EPOCHS": str(args.rank_epochs),
        "STARLING_WRITE_API_KEYS": json.dumps([WRITE_KEY]),
        "STARLING_ADMIN_API_KEYS": json.dumps([ADMIN_KEY]),
        # `starling learn` reaches the app through its Ray, whose token auth wants this.
        "RAY_AUTH_MODE": "token",
    }
    env.pop("RAY_ADDRESS", None)
    timeout = args.step_timeout
    report.line(
        f"{'step':<34} {'wall s':>9} {'CPU s':>9} {'PSS GiB':>9} {'RSS GiB':>9}"
        "  (CPU: the step's process tree; PSS splits shared pages among processes)"
    )
    keys = [*(key for key, *_ in _offline_steps(args)), "serve"]
    figures: dict[str, RunFigures] = {}
    for key, name, command, note in _offline_steps(args):
        if keys.index(key) >= keys.index(args.start_at):
            figures[name] = _step(report, name, command, env, timeout, note=note)
    (args.work / "floor.pq").unlink(missing_ok=True)
    if FLOOR in figures:
        ratio = figures[INGEST].seconds / figures[FLOOR].seconds
        report.line(f"#   ingest / floor: {ratio:.2f}x wall")
    _serve_and_load(report, args, env, home)
    report.line(f"\n# load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
