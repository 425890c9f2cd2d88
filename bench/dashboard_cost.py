"""What Ray's dashboard costs the app's latency: the same app without and with it, side by side.

Usage (on a home that `starling up` trained; nothing else should load the machine):
    .venv/bin/python bench/dashboard_cost.py --home .starling --rate 50 --seconds 60 --rounds 2

Each round starts `starling serve` on the home twice, once plainly and once with `--dashboard`
(alternating which goes first, so that drift on the machine falls on both), waits until it
answers, warms it up, sends POST /recommend at a fixed rate (open loop: latency counts from the
scheduled send time) and stops it. The dashboard's agent collects stats every few seconds; on
two cores those rounds showed up as p99 spikes, which is why it is off by default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from pydantic import BaseModel
from serve import open_loop as fire_at_rate

STARTUP_TIMEOUT_S = 600
WARM_UP_S = 5.0
PORT_FREE_TIMEOUT_S = 60
# Between rounds, so that one round's shutdown does not fall into the next one's start.
PAUSE_S = 10.0
UP_LINE = "Starling is up at"


class Round(BaseModel):
    dashboard: bool
    sent: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    load: str


def _load() -> str:
    """The machine's 1, 5 and 15 minute load averages: other work on it shows up here."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def open_loop(
    url: str, rate: int, seconds: float, users: list[int]
) -> tuple[list[float], int]:
    """POST /recommend `rate` times a second for `seconds`; latencies (ms) and errors."""
    headers = {"x-request-timeout-seconds": "0"}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:

        async def call(user: int) -> None:
            answer = await client.post("/recommend", json={"user_id": user, "k": 10})
            answer.raise_for_status()

        return await fire_at_rate(call, users, rate, seconds)


def _wait_until_free(port: int) -> None:
    """The last round's listeners (HAProxy's among them) may outlive its process by a moment; a
    round that starts while the port is held fails at Serve's start."""
    deadline = time.monotonic() + PORT_FREE_TIMEOUT_S
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(1)
    raise SystemExit(f"port {port} still in use after {PORT_FREE_TIMEOUT_S} s")


def _start(args: argparse.Namespace, dashboard: bool, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STARLING_HOME": str(args.home), "STARLING_HTTP_PORT": str(args.port)}
    if args.redis_port:
        env["STARLING_REDIS_PORT"] = str(args.redis_port)
    command = [sys.executable, "-m", "cluster.cli.main", "serve"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *(["--dashboard"] if dashboard else [])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while UP_LINE not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"starling serve did not come up:\n{log.read_text()}")
        time.sleep(1)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def one_round(args: argparse.Namespace, dashboard: bool) -> Round:
    log = args.home / f"dashboard_cost_{'on' if dashboard else 'off'}.log"
    _wait_until_free(args.port)
    time.sleep(PAUSE_S)
    process = _start(args, dashboard, log)
    url = f"http://127.0.0.1:{args.port}"
    users = list(range(1, 200))
    try:
        asyncio.run(open_loop(url, args.rate, WARM_UP_S, users))
        latencies, errors = asyncio.run(open_loop(url, args.rate, args.seconds, users))
    finally:
        _stop(process)
    values = np.array(latencies or [float("nan")])
    return Round(
        dashboard=dashboard,
        sent=len(latencies) + errors,
        errors=errors,
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        p99_ms=float(np.percentile(values, 99)),
        load=_load(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".starling"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis-port", type=int, help="the embedded Redis's (default 6390)")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    args.home = args.home.resolve()
    print(f"# load average before the run: {_load()}")
    rounds: list[Round] = []
    for index in range(args.rounds):
        order = (False, True) if index % 2 == 0 else (True, False)
        for dashboard in order:
            rounds.append(one_round(args, dashboard))
            row = rounds[-1]
            print(
                f"dashboard {'on ' if row.dashboard else 'off'}  {args.rate} req/s  sent "
                f"{row.sent:>5}  errors {row.errors}  p50 {row.p50_ms:6.1f}  p95 "
                f"{row.p95_ms:6.1f}  p99 {row.p99_ms:6.1f} ms  (load average {row.load})",
                flush=True,
            )
    for measure in ("p50_ms", "p95_ms", "p99_ms"):
        on = np.median([getattr(r, measure) for r in rounds if r.dashboard])
        off = np.median([getattr(r, measure) for r in rounds if not r.dashboard])
        print(
            f"{measure[:3]}: with dashboard / without = {on / off:.2f}x ({on:.1f} / {off:.1f} ms)"
        )


if __name__ == "__main__":
    main()
