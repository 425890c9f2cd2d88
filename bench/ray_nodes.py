"""`ray start` clusters for the benchmarks: a head and any worker nodes on this machine, and
the CPU each node's processes spend."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _started(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _alive_nodes(address: str, env: Mapping[str, str]) -> int:
    status = subprocess.run([RAY, "status", "--address", address], env=env, capture_output=True)
    if status.returncode != 0:
        return 0
    active = status.stdout.decode().split("Active:")[-1].split("Pending:")[0]
    return sum(1 for line in active.splitlines() if "node_" in line)


def stop_group(
    process: subprocess.Popen[bytes], first: signal.Signals = signal.SIGTERM, wait_s: float = 30
) -> None:
    """Signal `process`'s group (a session of its own) with `first`, then SIGKILL after `wait_s`."""
    os.killpg(process.pid, first)
    try:
        process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def ray_nodes(
    env: Mapping[str, str], cpus: Sequence[int], object_store_bytes: int | None = None
) -> Iterator[tuple[str, list[psutil.Process]]]:
    """A `ray start --head` node of `cpus[0]` CPUs on a free port and a worker node joined to it
    for each further entry: (the head's address, each node's root process, head first).

    Each node is stopped by signalling its `--block` process group: a plain `ray stop` would stop
    every Ray on the machine."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="bench-ray-", dir="/tmp")
    address = f"127.0.0.1:{port}"
    common = ["--block", "--disable-usage-stats"]
    if object_store_bytes:
        common += ["--object-store-memory", str(object_store_bytes)]
    head = [RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false"]
    head += ["--temp-dir", temp, "--num-cpus", str(cpus[0]), *common]
    processes = [_started(head, env, Path(temp) / "head.log")]
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _alive_nodes(address, env) < 1:
            if processes[0].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ray start failed:\n{(Path(temp) / 'head.log').read_text()}")
            time.sleep(1)
        for number, count in enumerate(cpus[1:], start=1):
            worker = [RAY, "start", "--address", address, "--num-cpus", str(count), *common]
            processes.append(_started(worker, env, Path(temp) / f"worker-{number}.log"))
        while _alive_nodes(address, env) < len(cpus):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                logs = "".join(log.read_text() for log in sorted(Path(temp).glob("*.log")))
                raise SystemExit(f"a node did not join:\n{logs[-4000:]}")
            time.sleep(1)
        yield address, [psutil.Process(process.pid) for process in processes]
    finally:
        for process in reversed(processes):
            stop_group(process)
        shutil.rmtree(temp, ignore_errors=True)


class NodeCpu:
    """The CPU seconds each node's processes spend while it runs (sampled every `interval_s`,
    each process as of its last sample, so a worker that ends loses at most its last interval),
    and which of them worked, by the title Ray gives a worker while it runs a task or actor: a
    node whose processes spent nothing took no part in the step."""

    def __init__(self, roots: Sequence[psutil.Process], interval_s: float = 1.0) -> None:
        self.roots = list(roots)
        self.interval_s = interval_s
        self.before = [
            {pid: seconds for pid, (seconds, _) in _node_cpu(root).items()} for root in self.roots
        ]
        self.seen: list[dict[int, float]] = [dict(cpu) for cpu in self.before]
        self.titles: dict[int, str] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.interval_s):
            self._record()

    def _record(self) -> None:
        for node, root in enumerate(self.roots):
            for pid, (seconds, process) in _node_cpu(root).items():
                if seconds > self.seen[node].get(pid, 0.0):
                    self.seen[node][pid] = seconds
                    # The title of what it was busy with: an idle worker is "ray::IDLE".
                    with contextlib.suppress(psutil.Error):
                        self.titles[pid] = " ".join(process.cmdline()).strip()[:48]

    def __enter__(self) -> NodeCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self._record()

    def seconds(self) -> list[float]:
        """CPU seconds spent on each node while this ran."""
        return [
            sum(v - before.get(pid, 0.0) for pid, v in seen.items())
            for seen, before in zip(self.seen, self.before, strict=True)
        ]

    def busiest(self, node: int, count: int = 3, least_s: float = 1.0) -> list[tuple[str, float]]:
        """The processes of `node` that spent the most CPU (at least `least_s`): (title, s)."""
        spent = [
            (self.titles.get(pid, "?"), v - self.before[node].get(pid, 0.0))
            for pid, v in self.seen[node].items()
        ]
        return sorted((s for s in spent if s[1] >= least_s), key=lambda s: -s[1])[:count]


def _node_cpu(root: psutil.Process) -> dict[int, tuple[float, psutil.Process]]:
    """User + system CPU seconds so far of each process of a node's tree, with the process."""
    cpu = {}
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return cpu
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        cpu[process.pid] = (times.user + times.system, process)
    return cpu
