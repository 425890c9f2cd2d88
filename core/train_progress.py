"""Ray Train reports seen by the process that runs `fit()`, while it runs.

Ray Train's workers log into their own files, which never reach the driver, and `fit()` hands
back only the final result. A process that wants each epoch as it ends (the CLI's progress bar)
opens a queue with `forwarding_reports`; the trainers add `report_callbacks()` to their
RunConfig, and Ray Train's controller then puts rank 0's metrics of every `ray.train.report`
into it. With no queue open the trainers add nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ray.train import UserCallback
    from ray.util.queue import Queue

_open: list[Queue] = []


@contextmanager
def forwarding_reports(queue: Queue) -> Iterator[None]:
    """Trainers started in this process while inside forward their reports into `queue`."""
    _open.append(queue)
    try:
        yield
    finally:
        _open.remove(queue)


def report_callbacks() -> list[UserCallback]:
    """RunConfig callbacks for the open queue: none when nobody listens."""
    if not _open:
        return []
    from ray.train import UserCallback

    class ReportForwarder(UserCallback):
        """Runs in Ray Train's controller actor, once all workers have reported."""

        def __init__(self, queue: Queue) -> None:
            self._queue = queue

        def after_report(
            self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any
        ) -> None:
            if metrics:
                self._queue.put(dict(metrics[0]))

    return [ReportForwarder(_open[-1])]
