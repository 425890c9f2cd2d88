"""One writer at a time for a local folder that several commands commit to (the events lake).

`starling ingest`, `starling events consume` and the app's EventLander all commit new versions
of the lake, and each removes the temporary folders it finds beside it as leftovers of a killed
run. Run at once they would delete each other's folders, and the later rename would drop the
other's commit. A version swap also removes the files of the version before, and the
EventLander commits every few seconds while events flow: a reader that must see one version
whole (the features job) holds the lock while it reads. The lock is an advisory `flock` on a
file beside the folder; the kernel releases it when the holder dies, so a killed run never
leaves it held. On S3 it is a lease object in the same place (`core.object_lease`), which a
killed run's successor takes over once it has gone unrenewed for its TTL.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from core.conditional_write import supports_conditions, warn_unconditional
from core.filesystem import RemotePath, StoragePath
from core.object_lease import hold_lease, holds_lease

log = logging.getLogger(__name__)


def lock_path(target: StoragePath) -> StoragePath:
    return target.with_name(f".{target.name}.lock")


@contextmanager
def writer_lock(target: StoragePath) -> Iterator[None]:
    """Hold `target`'s writer lock for the block, waiting for another holder to finish.

    On S3, a block inside another that holds the same lock in this thread shares its lease.
    Other object stores have no conditional writes through pyarrow, so no lock: there, keeping
    to one writer is the operator's job (a warning says so).
    """
    if isinstance(target, RemotePath):
        if supports_conditions(target):
            with hold_lease(lock_path(target)):
                yield
        else:
            warn_unconditional(target.scheme)
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


def holds_writer_lock(target: RemotePath) -> bool:
    """Whether this thread holds `target`'s writer lease (on a store that has one)."""
    return supports_conditions(target) and holds_lease(lock_path(target))
