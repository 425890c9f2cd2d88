"""Wall time and peak memory of a command together with every process it starts (Ray's too)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
from pydantic import BaseModel

GIB = 1024**3


class RunFigures(BaseModel):
    """What one measured command cost."""

    seconds: float
    cpu_seconds: float
    peak_pss_gib: float
    peak_rss_gib: float
    returncode: int
    output: str
    timed_out: bool = False


def _pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages (Ray's object store in /dev/shm) split among users."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def _tree_memory(roots: list[psutil.Process], cpu: dict[int, float]) -> tuple[int, int]:
    """(PSS, RSS) summed over `roots` and their descendants; RSS counts shared pages repeatedly.

    Also records each process's CPU seconds so far in `cpu` (by pid).
    """
    processes = [p for root in roots for p in _tree(root)]
    pss = rss = 0
    for process in processes:
        try:
            rss += process.memory_info().rss
            times = process.cpu_times()
        except psutil.Error:
            continue
        cpu[process.pid] = max(cpu.get(process.pid, 0.0), times.user + times.system)
        pss += _pss_bytes(process.pid)
    return pss, rss


def run_measured(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    interval_s: float = 1.0,
    timeout_s: float | None = None,
    cluster: psutil.Process | None = None,
) -> RunFigures:
    """Run `command` to the end, sampling the memory of its process tree every `interval_s`.

    CPU seconds are summed over every process seen, as of its last sample: a fair measure of
    work on a machine that other jobs load, since wall time there depends on their load too.
    Past `timeout_s` the command and every process it started (Ray's too) are killed.
    `cluster` is the root of a Ray cluster the command joins: its processes' memory and the
    CPU they spend while the command runs are counted with the command's.
    """
    peaks = [0, 0]
    cpu: dict[int, float] = {}
    before = _cpu_seconds(_tree(cluster)) if cluster else {}
    started = time.perf_counter()
    # A session of its own, so that a timeout can kill the driver and Ray's processes at once.
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    roots = [psutil.Process(process.pid), *([cluster] if cluster else [])]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pss, rss = _tree_memory(roots, cpu)
            peaks[0], peaks[1] = max(peaks[0], pss), max(peaks[1], rss)
            done.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return RunFigures(
        seconds=round(seconds, 1),
        cpu_seconds=round(sum(v - before.get(pid, 0.0) for pid, v in cpu.items()), 1),
        peak_pss_gib=round(peaks[0] / GIB, 2),
        peak_rss_gib=round(peaks[1] / GIB, 2),
        returncode=process.returncode,
        output=output,
        timed_out=timed_out,
    )
