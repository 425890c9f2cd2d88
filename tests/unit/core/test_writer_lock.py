from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from core.writer_lock import lock_path, writer_lock


def test_a_second_writer_waits_until_the_first_one_is_done(tmp_path: Path) -> None:
    lake = tmp_path / "events"
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with writer_lock(lake):
            holding.set()
            time.sleep(0.5)
            order.append("first done")

    def second() -> None:
        holding.wait()
        with writer_lock(lake):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert order == ["first done", "second in"]


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    lake = tmp_path / "events"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from core.writer_lock import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(lake),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with writer_lock(lake):
        waited = time.monotonic() - started
    assert waited < 1.0
    assert lock_path(lake).exists()
