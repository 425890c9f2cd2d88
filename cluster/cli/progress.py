"""Progress bars for the CLI's long steps (tqdm, on stderr) and their one-line summaries.

Bars go to stderr and only on a terminal (tqdm's own check), so stdout keeps the summaries and
`--json` output, and logs of a redirected run stay readable.
"""

from __future__ import annotations

import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from tqdm import tqdm

from cluster.step_progress import StepReport, Watch
from core.train_progress import forwarding_reports
from ingest.lake.progress import Progress, ProgressBar

if TYPE_CHECKING:
    from ray.util.queue import Queue

# How often a bar of a step that reports nothing redraws its clock, and how long the thread
# that reads training reports waits for one before it looks whether training ended.
TICK_S = 0.5
# The metrics of an epoch's report shown beside its bar, in this order, under these names.
EPOCH_METRICS = {"loss": "loss", "val_roc_auc": "val AUC"}


def new_bar(out: IO[str], **options: Any) -> tqdm:
    """A tqdm bar on `out`, sized from shutil. tqdm asks the terminal itself, and a pseudo
    terminal that was never given a size (`script`, some CI runners) answers 0 x 0: tqdm then
    hides every bar as below the screen's last line. shutil falls back to $COLUMNS/$LINES or
    80 x 24 there."""
    size = shutil.get_terminal_size()
    return tqdm(file=out, ncols=size.columns, nrows=size.lines, **options)


def summary_line(step: StepReport) -> str:
    """`✓ features      12,000 training and ... (8.1 s)`; `·` for a step that had nothing to do."""
    mark = "✓" if step.ran else "·"
    timing = f" ({step.seconds:.1f} s)" if step.ran else ""
    return f"{mark} {step.step:<13} {step.detail}{timing}"


def epoch_postfix(metrics: dict[str, Any]) -> str:
    """`loss 0.5123, val AUC 0.7712` from one epoch's report."""
    shown = [
        f"{name} {float(metrics[key]):.4f}" for key, name in EPOCH_METRICS.items() if key in metrics
    ]
    return ", ".join(shown)


class _TqdmBar(ProgressBar):
    """The ingest job's bars (bytes validated, rows merged) drawn by tqdm."""

    def __init__(self, label: str, total: float, unit: str, scale: float, out: IO[str]) -> None:
        self._scale = scale
        self._done = 0.0
        self._bar = new_bar(out, total=total / scale, desc=f"ingest: {label}", unit=f" {unit}")

    def advance(self, amount: float) -> None:
        self._done += amount
        self._bar.update(amount / self._scale)

    def close(self) -> None:
        self._bar.close()


class _TqdmIngest(Progress):
    """The ingest job's progress with tqdm bars instead of phase lines."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__("ingest", out, enabled=False)
        self._out = out

    def bar(self, label: str, total: float, unit: str = "", scale: float = 1.0) -> ProgressBar:
        return _TqdmBar(label, total, unit, scale, self._out)


class BarWatch(Watch):
    """tqdm bars for every long step of `starling up` and the single-step commands."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._queue: Queue | None = None

    def synth(self) -> Callable[[int, int], None]:
        shown = new_bar(self._out, desc="synth", unit=" ratings", unit_scale=True)

        def advance(done: int, total: int) -> None:
            shown.total = total
            shown.update(done - shown.n)
            if done >= total:
                shown.close()

        return advance

    def ingest(self) -> Progress:
        return _TqdmIngest(self._out)

    @contextmanager
    def running(self, step: str) -> Iterator[None]:
        """A bar with a running clock: these steps report nothing while they run."""
        clock = new_bar(self._out, desc=step, bar_format="{desc}: {elapsed}")
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(TICK_S):
                clock.refresh()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
            clock.close()

    @contextmanager
    def epochs(self, step: str, total: int | None) -> Iterator[None]:
        """One tick per epoch that rank 0 reports, with its loss and validation metric."""
        epochs = new_bar(self._out, desc=step, total=total, unit="epoch")
        reports = self._reports()
        done = threading.Event()

        def show(metrics: dict[str, Any]) -> None:
            epochs.set_postfix_str(epoch_postfix(metrics), refresh=False)
            epochs.update(1)

        reader = threading.Thread(target=_read_reports, args=(reports, done, show), daemon=True)
        reader.start()
        try:
            with forwarding_reports(reports):
                yield
        finally:
            done.set()
            reader.join()
            # Early stopping or a step limit ends training before the epoch limit.
            epochs.total = epochs.n
            epochs.close()

    def _reports(self) -> Queue:
        """The queue Ray Train's controller puts reports into: one small actor, started at the
        first training step and reused by the next, so a run pays its start once."""
        if self._queue is None:
            from ray.util.queue import Queue

            self._queue = Queue(actor_options={"num_cpus": 0})
        return self._queue

    def close(self) -> None:
        if self._queue is not None:
            self._queue.shutdown()
            self._queue = None


def _read_reports(
    reports: Queue, done: threading.Event, show: Callable[[dict[str, Any]], None]
) -> None:
    """Show each report until training ended and the queue is empty, or Ray is gone (a Ctrl-C
    stops it while training runs)."""
    from ray.exceptions import RayError

    while True:
        try:
            show(reports.get(timeout=TICK_S))
        except queue.Empty:
            if done.is_set():
                return
        except RayError:
            return
