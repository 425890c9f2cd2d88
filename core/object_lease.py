"""The writer lease that keeps a folder on an object store to one writer at a time.

A lease is an object beside the folder (`.<folder>.lock`). It is created only where none is
(`If-None-Match: *`) and rewritten by its holder every `renew_s` only while it is the one the
holder last wrote (`If-Match: <its ETag>`). A waiting writer takes it over only when its ETag
has not changed for `ttl_s` by the waiter's own clock, and only by a write conditional on that
ETag, so no clock has to agree with another machine's and two waiters cannot both win.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from core.conditional_write import (
    ConditionFailedError,
    ObjectVersion,
    delete_object,
    put_object,
    read_object,
)
from core.filesystem import RemotePath

log = logging.getLogger(__name__)


class LeaseTiming(BaseModel, frozen=True):
    """How long a silent lease lives and how often its holder renews it (seconds)."""

    # A killed writer's lake is free again this long after its last renewal: long enough that
    # a few slow or failed renewals (an S3 hiccup, a GC pause) do not hand a live writer's lease
    # to another, short enough that a restart after a crash waits at most half a minute.
    ttl_s: float = 30.0
    # Six renewals per TTL: the lease survives several failed ones in a row.
    renew_s: float = 5.0
    # How often a waiting writer looks at the lease again.
    poll_s: float = 1.0


TIMING = LeaseTiming()


class LeaseLostError(RuntimeError):
    """This writer's lease expired or was taken over: it must not commit."""


class LeaseHeldError(TimeoutError):
    """Another live writer held the lease for as long as the caller would wait."""


class _Holder(BaseModel):
    """What a lease object holds: who holds it, for the messages of those who wait, and a
    counter that gives every renewal a new ETag."""

    owner: str
    host: str
    pid: int
    renewals: int = 0


def _describe(version: ObjectVersion) -> str:
    try:
        holder = _Holder.model_validate_json(version.body)
    except ValueError:
        return "an unknown writer"
    return f"pid {holder.pid} on {holder.host}"


class ObjectLease:
    """One writer's hold on a lease object (see the module's docstring)."""

    def __init__(self, path: RemotePath, timing: LeaseTiming | None = None) -> None:
        self.path = path
        self.timing = timing or TIMING
        self._holder = _Holder(owner=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid())
        self._etag: str | None = None
        # When the last write that succeeded was sent: the lease lasts `ttl_s` from no earlier.
        self._renewed_at = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return self._holder.model_dump_json().encode()

    def acquire(self, timeout_s: float | None = None) -> None:
        """Take the lease, waiting while a live writer holds it (at most `timeout_s`)."""
        started = time.monotonic()
        seen: tuple[str | None, float] | None = None  # the holder's ETag, and since when
        waiting = False
        while True:
            current = read_object(self.path)
            # Taken after the read, so never before the write that made this ETag was sent.
            now = time.monotonic()
            try:
                if current is None:
                    self._etag = put_object(self.path, self._body(), None)
                    break
                if seen and seen[0] == current.etag and now - seen[1] >= self.timing.ttl_s:
                    silent = now - seen[1]
                    log.warning(
                        "taking over the writer lease %s: %s has not renewed it for %.0f s",
                        self.path,
                        _describe(current),
                        silent,
                    )
                    self._etag = put_object(self.path, self._body(), current.etag)
                    break
            except ConditionFailedError:
                seen = None  # another writer came first: look again
                continue
            if not waiting:
                log.warning("%s is writing %s; waiting for it", _describe(current), self.path)
                waiting = True
            if seen is None or seen[0] != current.etag:
                seen = (current.etag, now)
            if timeout_s is not None and now - started >= timeout_s:
                raise LeaseHeldError(f"{_describe(current)} holds the writer lease {self.path}")
            time.sleep(self.timing.poll_s)
        self._renewed_at = now
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.path}", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.timing.renew_s):
            self._holder.renewals += 1
            sent = time.monotonic()
            try:
                self._etag = put_object(self.path, self._body(), self._etag)
            except ConditionFailedError:
                self._lost = "taken over by another writer"
                log.error("lost the writer lease %s to another writer", self.path)
                return
            except (BotoCoreError, ClientError) as error:
                # Tried again at the next tick; `check` refuses commits if it goes on failing.
                log.warning("could not renew the writer lease %s: %s", self.path, error)
                continue
            self._renewed_at = sent

    def check(self) -> None:
        """Raise LeaseLostError unless the lease is surely still this writer's: a lease not
        renewed for half its TTL is not trusted, which leaves the other half for the write
        that relies on it to land before another writer could take the lease over."""
        if self._lost:
            raise LeaseLostError(f"the writer lease {self.path} was {self._lost}")
        silent = time.monotonic() - self._renewed_at
        if silent > self.timing.ttl_s / 2:
            raise LeaseLostError(
                f"the writer lease {self.path} could not be renewed for {silent:.1f} s: "
                "another writer may hold it now"
            )

    def release(self) -> None:
        """Stop renewing, and delete the lease if it is still this writer's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lost or self._etag is None:
            return
        try:
            delete_object(self.path, self._etag)
        except ConditionFailedError:
            log.warning("the writer lease %s was taken over; left to its holder", self.path)
        except (BotoCoreError, ClientError) as error:
            log.warning("could not release the writer lease %s (%s): it expires", self.path, error)


_HELD: ContextVar[tuple[ObjectLease, ...]] = ContextVar("held_leases", default=())


def _same(lease: ObjectLease, path: RemotePath) -> bool:
    return lease.path.path == path.path and lease.path.options == path.options


def holds_lease(path: RemotePath) -> bool:
    """Whether this thread (or task) holds the lease object `path`."""
    return any(_same(lease, path) for lease in _HELD.get())


def check_held_leases() -> None:
    """Raise LeaseLostError if a lease this thread holds is no longer surely its own."""
    for lease in _HELD.get():
        lease.check()


@contextmanager
def hold_lease(path: RemotePath, timing: LeaseTiming | None = None) -> Iterator[ObjectLease]:
    """Hold the lease object `path` for the block. Within a block that holds it already, the
    same hold: a writer's own recovery and commits need no second one."""
    held = _HELD.get()
    mine = next((lease for lease in held if _same(lease, path)), None)
    if mine is not None:
        yield mine
        return
    lease = ObjectLease(path, timing)
    lease.acquire()
    token = _HELD.set((*held, lease))
    try:
        yield lease
    finally:
        _HELD.reset(token)
        lease.release()
