"""The offline pipeline on one Ray node and on two: where each step's work runs, and the speedup.

Usage:
    .venv/bin/python bench/two_nodes.py        # ml-1m-shaped: 1M ratings, 6,040 users, 3,700 items

Each side is a `ray start` cluster on this machine with the same CPUs in all: one node of
--cpus, or a head and a worker node of half as many each, as two pods of a KubeRay cluster
would be. In a fresh home per side, `starling ingest`, `features`, `train recall` and `train
rank` join that cluster (RAY_ADDRESS) with --workers Ray Train workers placed SPREAD (one node
each where possible). Each step's row gives its wall time, the CPU seconds spent on each node
(the node's processes: raylet, Ray Data tasks, Ray Train workers) and in the driver (the
`starling` process, which joins the cluster from outside it, with its embedded Redis), and the
busiest Ray processes of each node. Both sides run in one go; the ratio is two nodes / one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest_speed import ensure_data
from machine import machine_line
from process_tree import RunFigures, run_measured
from ray_nodes import NodeCpu, free_port, ray_nodes
from scale import Report

BENCH = Path(__file__).resolve().parent
STARLING = [sys.executable, "-m", "cluster.cli.main"]
GIB = 1024**3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/starling-bench/ml-1m-synth"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/starling-bench/two-nodes"))
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=6_040)
    parser.add_argument("--items", type=int, default=3_700)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the cluster, all nodes")
    parser.add_argument("--workers", type=int, default=2, help="Ray Train workers")
    parser.add_argument("--rank-epochs", type=int, default=1)
    parser.add_argument("--object-store-gib", type=float, default=4.0, help="per node")
    parser.add_argument("--result", type=Path, default=BENCH / "results" / "two_nodes.txt")
    return parser


def _steps(data: Path) -> list[tuple[str, list[str]]]:
    return [
        ("ingest", [*STARLING, "ingest", "--source", str(data)]),
        ("features", [*STARLING, "features"]),
        ("train recall", [*STARLING, "train", "recall"]),
        ("train rank", [*STARLING, "train", "rank"]),
    ]


def _row(side: str, step: str, figures: RunFigures, nodes: NodeCpu) -> str:
    per_node = " + ".join(f"{seconds:.0f}" for seconds in nodes.seconds())
    return (
        f"{side:<10} {step:<13} {figures.seconds:>7.1f} {per_node:>13} {figures.cpu_seconds:>9.0f}"
    )


def _side(args: argparse.Namespace, report: Report, name: str, cpus: list[int]) -> dict[str, float]:
    """The steps on a fresh cluster of `cpus` nodes in a fresh home: each step's wall seconds."""
    home = args.work / name.replace(" ", "-")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {
        **os.environ,
        # Token auth is on by default in Ray: a driver joining a `ray start` cluster needs this.
        "RAY_AUTH_MODE": "token",
        "STARLING_HOME": str(home),
        "STARLING_REDIS_PORT": str(free_port()),
        "STARLING_TRAIN__WORKERS": str(args.workers),
        "STARLING_TRAIN__PLACEMENT": "SPREAD",
        "STARLING_RANK__EPOCHS": str(args.rank_epochs),
    }
    store = int(args.object_store_gib * GIB)
    walls: dict[str, float] = {}
    busiest: list[str] = []
    with ray_nodes(env, cpus, store) as (address, roots):
        env["RAY_ADDRESS"] = address
        for step, command in _steps(args.data):
            os.sync()
            with NodeCpu(roots) as nodes:
                figures = run_measured(command, env=env)
            if figures.returncode != 0:
                (home / f"{step.replace(' ', '_')}.log").write_text(figures.output)
                raise SystemExit(f"{name}: {step} failed:\n{figures.output[-4000:]}")
            walls[step] = figures.seconds
            report.line(_row(name, step, figures, nodes))
            for node in range(len(roots)):
                work = ", ".join(f"{title} {s:.0f} s" for title, s in nodes.busiest(node))
                busiest.append(f"#   {name}, {step}, node {node + 1}: {work or 'nothing'}")
    report.line("\n".join(busiest))
    return walls


def main() -> None:
    args = _parser().parse_args()
    report = Report(args.result, args.work, append=False)
    report.line(
        f"# bench/two_nodes.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.ratings:,} ratings, "
        f"{args.users:,} users, {args.items:,} items (synthetic, {args.data}); {args.cpus} CPUs "
        f"in all, {args.workers} Ray Train workers placed SPREAD, rank {args.rank_epochs} epoch(s)"
    )
    report.line(machine_line())
    ensure_data(args)
    report.line(f"{'side':<10} {'step':<13} {'wall s':>7} {'CPU s/node':>13} {'driver s':>9}")
    half = args.cpus // 2
    one = _side(args, report, "one node", [args.cpus])
    two = _side(args, report, "two nodes", [half, args.cpus - half])
    for step, seconds in one.items():
        report.line(f"# {step}: two nodes / one node = {two[step] / seconds:.2f}x wall")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report.line(f"# load average at the end: {load}")


if __name__ == "__main__":
    main()
