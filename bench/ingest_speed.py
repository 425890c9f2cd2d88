"""Benchmark: `starling ingest` and `starling features` against a bare pyarrow conversion.

Run from the repository root with the project's Python:

    python bench/ingest_speed.py [--data DIR] [--ratings N --users U --items I] [--result FILE]

The synthetic MovieLens set is generated once into --data and reused. Each step runs as its own
process (the CLI a user runs); its wall time and the peak memory of its process tree (Ray's
raylet, workers and object store included) are printed side by side with the bare conversion.
`starling ingest` runs two ways: starting its own local Ray, as `starling ingest` alone does, and
joining a Ray cluster that was already running (`ray start --head`), as on a deployed cluster;
that cluster's processes count towards the second run's memory and CPU. Before the timed run
the cluster ingests a two-line source once and then idles for a few seconds, as a deployed
cluster has run jobs before and is idle when one comes: a cluster's first Ray Data job also
starts Ray Data's cluster-wide actors (1-2 s), and a cluster's own start keeps a CPU busy for
seconds after `ray status` first answers.

The bare conversion's own time varies by half on this machine from run to run (3.4-7.3 s), so
the conversion and both ingests run --rounds times, interleaved, each ingest into an empty lake,
each step after the page cache's dirty pages of the one before are written out (`sync`); the
table shows each step's median run and the ratio is the median of the rounds' ratios.
`starling features` then runs once on the last round's lake.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from process_tree import RunFigures, run_measured
from ray_nodes import free_port, ray_nodes

BENCH = Path(__file__).resolve().parent
STARLING = [sys.executable, "-m", "cluster.cli.main"]
FLOOR = "pyarrow csv->parquet"
COLD_INGEST = "starling ingest"
CLUSTER_INGEST = "ingest, Ray running"
FEATURES = "starling features"
# How long a just-started, warmed-up cluster idles before the timed run joins it.
CLUSTER_SETTLE_S = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/starling-bench/ml-25m-synth"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/starling-bench/work"))
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--users", type=int, default=162_000)
    parser.add_argument("--items", type=int, default=62_000)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each ingest and the floor")
    parser.add_argument("--note", default="", help="a line to record with the result")
    parser.add_argument(
        "--features-timeout",
        type=float,
        default=None,
        help="seconds after which `starling features` is stopped and reported as unfinished",
    )
    parser.add_argument("--result", type=Path, default=BENCH / "results" / "ingest.txt")
    return parser


def ensure_data(args: argparse.Namespace) -> None:
    """Generate the synthetic set unless --data already holds it (written aside, then renamed)."""
    if (args.data / "ratings.csv").is_file():
        return
    staging = args.data.with_name(args.data.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    sizes = ["--users", str(args.users), "--items", str(args.items)]
    command = [*STARLING, "data", "synth", *sizes, "--ratings", str(args.ratings)]
    subprocess.run([*command, "--out", str(staging)], check=True)
    staging.rename(args.data)


def _tiny_source(work: Path) -> Path:
    """A two-rating MovieLens folder for warming a cluster up."""
    folder = work / "warm-up-source"
    folder.mkdir(exist_ok=True)
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    return folder


def _checked(name: str, figures: RunFigures) -> RunFigures:
    if figures.returncode != 0 and not figures.timed_out:
        raise SystemExit(f"{name} failed ({figures.returncode}):\n{figures.output[-4000:]}")
    return figures


def _row(name: str, figures: RunFigures, floor: RunFigures) -> str:
    ratio = figures.seconds / floor.seconds
    name += " (stopped)" if figures.timed_out else ""
    cpu_ratio = figures.cpu_seconds / max(floor.cpu_seconds, 0.1)
    return (
        f"{name:<28} {figures.seconds:>9.1f} {ratio:>9.2f}x {figures.cpu_seconds:>9.1f} "
        f"{cpu_ratio:>9.2f}x {figures.peak_pss_gib:>13.2f} {figures.peak_rss_gib:>13.2f}"
    )


def _features_line(figures: RunFigures) -> str:
    if figures.timed_out:
        return f"features: did not finish, stopped after {figures.seconds / 60:.1f} min"
    return f"features: {figures.seconds / 60:.1f} min"


def _median_run(figures: list[RunFigures]) -> RunFigures:
    return sorted(figures, key=lambda f: f.seconds)[len(figures) // 2]


def _median_ratio(runs: list[RunFigures], floors: list[RunFigures]) -> float:
    return statistics.median(r.seconds / f.seconds for r, f in zip(runs, floors, strict=True))


def report(
    args: argparse.Namespace, rounds: dict[str, list[RunFigures]], features: RunFigures, load: str
) -> str:
    runs = {name: _median_run(figures) for name, figures in rounds.items()} | {FEATURES: features}
    floor = runs[FLOOR]
    csv_gib = (args.data / "ratings.csv").stat().st_size / 1024**3
    per_round = [
        f"round {n + 1}: floor {b.seconds:.1f} s, ingest {c.seconds:.1f} s "
        f"({c.seconds / b.seconds:.2f}x), Ray running {j.seconds:.1f} s "
        f"({j.seconds / b.seconds:.2f}x)"
        for n, (b, c, j) in enumerate(
            zip(rounds[FLOOR], rounds[COLD_INGEST], rounds[CLUSTER_INGEST], strict=True)
        )
    ]
    peak = max(f.peak_pss_gib for figures in rounds.values() for f in figures)
    lines = [
        f"# bench/ingest_speed.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"# data: {args.data} ({csv_gib:.2f} GiB ratings.csv)",
        f"# machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 1024**3:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}",
        f"# load average (1, 5, 15 min) before and after: {load}",
        *([f"# note: {args.note}"] if args.note else []),
        f"# rounds: {args.rounds}; each row is the step's median run",
        f"{'step':<28} {'seconds':>9} {'vs floor':>10} {'CPU s':>9} {'vs floor':>10} "
        f"{'peak PSS GiB':>13} {'peak RSS GiB':>13}",
        *(_row(name, figures, floor) for name, figures in runs.items()),
        "",
        *per_round,
        f"ingest / bare conversion, median of the rounds: "
        f"{_median_ratio(rounds[COLD_INGEST], rounds[FLOOR]):.2f}x starting its own Ray, "
        f"{_median_ratio(rounds[CLUSTER_INGEST], rounds[FLOOR]):.2f}x joining a running one",
        f"peak PSS of any ingest or floor run: {peak:.2f} GiB",
        _features_line(features),
        "PSS splits shared pages (Ray's object store) among processes; RSS counts them repeatedly.",
        "CPU s: user + system seconds of the step's whole process tree (sampled every second).",
        "",
        f"## {COLD_INGEST} output (median run)",
        runs[COLD_INGEST].output.strip(),
        "",
        f"## {CLUSTER_INGEST} output (median run)",
        runs[CLUSTER_INGEST].output.strip(),
        "",
        f"## {FEATURES} output",
        features.output.strip(),
    ]
    return "\n".join(lines) + "\n"


def _measured(name: str, command: list[str], env: dict[str, str], **kwargs: object) -> RunFigures:
    # The previous step's lake or Parquet file is still being written back to disk otherwise.
    os.sync()
    figures = _checked(name, run_measured(command, env=env, **kwargs))
    sys.stderr.write(f"{name}: {figures.seconds:.1f} s\n")
    return figures


def main() -> None:
    args = _parser().parse_args()
    ensure_data(args)
    shutil.rmtree(args.work, ignore_errors=True)
    home, cluster_home = args.work / "home", args.work / "home-cluster"
    args.work.mkdir(parents=True)
    # RAY_ADDRESS=local: each step starts its own Ray, never joins a cluster someone else runs.
    env = {**os.environ, "STARLING_HOME": str(home), "RAY_ADDRESS": "local"}
    # Token auth is on by default in Ray: a driver joining a `ray start` cluster needs this.
    cluster_env = {**os.environ, "RAY_AUTH_MODE": "token", "STARLING_HOME": str(cluster_home)}
    bare = [sys.executable, str(BENCH / "bare_convert.py")]
    floor = [*bare, str(args.data / "ratings.csv"), str(args.work / "r.pq")]
    ingest = [*STARLING, "ingest", "--source", str(args.data)]
    before = os.getloadavg()
    rounds: dict[str, list[RunFigures]] = {FLOOR: [], COLD_INGEST: [], CLUSTER_INGEST: []}
    for _ in range(args.rounds):
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cluster_home, ignore_errors=True)
        rounds[FLOOR].append(_measured(FLOOR, floor, env))
        # A port picked per step: one picked minutes earlier may be someone else's by now.
        step_env = {**env, "STARLING_REDIS_PORT": str(free_port())}
        rounds[COLD_INGEST].append(_measured(COLD_INGEST, ingest, step_env))
        # The cluster runs only for its own step, so that it costs the other steps nothing.
        with ray_nodes(cluster_env, [2]) as (address, (root,)):
            warm = [*STARLING, "ingest", "--source", str(_tiny_source(args.work))]
            warm_env = {**cluster_env, "STARLING_HOME": str(args.work / "home-warm-up")}
            _checked("warm-up", run_measured([*warm, "--address", address], env=warm_env))
            time.sleep(CLUSTER_SETTLE_S)
            command = [*ingest, "--address", address]
            figures = _measured(CLUSTER_INGEST, command, cluster_env, cluster=root)
            rounds[CLUSTER_INGEST].append(figures)
    step_env = {**env, "STARLING_REDIS_PORT": str(free_port())}
    features = _measured(
        FEATURES, [*STARLING, "features"], step_env, timeout_s=args.features_timeout
    )
    load = " / ".join(" ".join(f"{x:.1f}" for x in avg) for avg in (before, os.getloadavg()))
    text = report(args, rounds, features, load)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
