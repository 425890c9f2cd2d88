"""One writer at a time for a local folder that several commands commit to (the events lake).

`starling ingest`, `starling events consume` and the app's EventLander all commit new versions
of the lake, and each removes the temporary folders it finds beside it as leftovers of a killed
run. Run at once they would delete each other's folders, and the later rename would drop the
other's commit. A version swap also removes the files of the version before, and the
EventLander commits every few seconds while events flow: a reader that must see one version
whole (the features job) holds the lock while it reads. The lock is an advisory `flock` on a
file beside the folder; the kernel releases it when the holder dies, so a killed run never
leaves it held.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from core.filesystem import RemotePath, StoragePath

log = logging.getLogger(__name__)


def lock_path(target: StoragePath) -> StoragePath:
    return target.with_name(f".{target.name}.lock")


@contextmanager
def writer_lock(target: StoragePath) -> Iterator[None]:
    """Hold `target`'s writer lock for the block, waiting for another holder to finish.

    An object store has no such lock: there, keeping to one writer is the operator's job.
    """
    if isinstance(target, RemotePath):
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another command is writing %s; waiting for it to finish", target)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
