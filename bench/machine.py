"""What machine a benchmark ran on, and how fast it was that day.

Absolute times taken on different days are not comparable even on the "same" 2-core machine:
on 2026-12-07 one commit's pipeline ran at half its 2026-12-05 speed. A fixed workload timed
beside every run says how fast the machine was, so a figure can be compared with an older one
after scaling by the two calibrations.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it, else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _workload() -> float:
    """Python-level loops and small numpy calls, the mix a request's pipeline spends on."""
    total = 0.0
    for i in range(200_000):
        total += i % 7
    matrix = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    for _ in range(2_000):
        matrix = np.tanh(matrix @ matrix.T)
    return total + float(matrix.sum())


def calibration_ms(repeats: int = 5) -> float:
    """The fastest of `repeats` timings of one fixed workload: lower is a faster machine."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        _workload()
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings)


def machine_line() -> str:
    """One comment line for a benchmark's output: CPU, cores, load and the calibration."""
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"# machine: {cpu_model()}, {os.cpu_count()} CPUs, load average {load}, "
        f"calibration {calibration_ms():.1f} ms (bench/machine.py; lower is faster)"
    )
