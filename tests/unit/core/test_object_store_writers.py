"""Two writers of one folder on a real S3 API (moto): commits are compare-and-swap, the writer
lease keeps them to one at a time, and two publishes of one model take two version numbers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

import core.object_lease
from core.conditional_write import read_object
from core.filesystem import RemotePath, StorageOptions, open_storage, read_parquet, write_parquet
from core.object_lease import LeaseHeldError, LeaseLostError, LeaseTiming, ObjectLease, hold_lease
from core.registry import CLAIM, ModelManifest, Registry
from core.storage import (
    POINTER,
    VERSIONS,
    CommitConflictError,
    atomic_dir,
    committed,
    discard_uncommitted,
)
from core.writer_lock import lock_path, writer_lock

ROUNDS = 3
# Short enough that a test waits seconds for a lease to expire, long enough that a renewal
# every `renew_s` keeps it on a loaded machine (moto shares this process's GIL).
FAST = LeaseTiming(ttl_s=2.5, renew_s=0.1, poll_s=0.05)
# For writers that hand the lease over on release: nothing there waits for one to expire.
HANDOVER = LeaseTiming(ttl_s=30.0, renew_s=0.2, poll_s=0.05)


def _rows(folder: RemotePath) -> list[str]:
    part = committed(folder) / "part-0.parquet"
    return read_parquet(part)["row"].to_pylist() if part.is_file() else []


def _commit_one_more(lake: RemotePath, row: str) -> None:
    """What ingest and consume do: read the committed content, commit it plus new rows."""
    with atomic_dir(lake) as tmp:
        rows = _rows(lake)
        time.sleep(0.05)  # the other writer's commit lands in here
        write_parquet(pa.table({"row": [*rows, row]}), tmp / "part-0.parquet")


def _with_lease(lake: RemotePath, row: str) -> None:
    with writer_lock(lake):
        _commit_one_more(lake, row)


def _retrying_conflicts(lake: RemotePath, row: str) -> None:
    while True:
        try:
            _commit_one_more(lake, row)
            return
        except CommitConflictError:
            continue


@pytest.mark.parametrize("commit", [_with_lease, _retrying_conflicts], ids=["lease", "cas"])
def test_two_writers_at_once_lose_no_committed_row(
    commit: Callable[[RemotePath, str], None],
    s3_root: RemotePath,
    s3_options: StorageOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.object_lease, "TIMING", HANDOVER)
    uri = f"s3://{s3_root.path}/lake/events"

    def writer(name: str) -> None:
        lake = open_storage(uri, s3_options)  # a filesystem of its own, as in another process
        assert isinstance(lake, RemotePath)
        for number in range(ROUNDS):
            commit(lake, f"{name}{number}")

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(writer, "a"), pool.submit(writer, "b")]:
            done.result()

    lake = s3_root / "lake" / "events"
    assert sorted(_rows(lake)) == sorted(f"{w}{n}" for w in "ab" for n in range(ROUNDS))
    assert not lock_path(lake).exists()


def test_a_conflicting_commit_deletes_nothing_of_the_other_writer(s3_root: RemotePath) -> None:
    lake = s3_root / "events"
    _commit_one_more(lake, "first")
    conflict = pytest.raises(CommitConflictError, match="another writer committed")
    with conflict, atomic_dir(lake) as tmp:
        write_parquet(pa.table({"row": ["mine"]}), tmp / "part-0.parquet")
        _commit_one_more(lake, "theirs")
    assert _rows(lake) == ["first", "theirs"]
    assert len(list((lake / VERSIONS).iterdir())) == 2


def test_a_live_lease_is_not_taken_over_and_an_expired_one_is(s3_root: RemotePath) -> None:
    path = s3_root / ".events.lock"
    holder = ObjectLease(path, FAST)
    holder.acquire()
    waiter = ObjectLease(path, FAST)
    with pytest.raises(LeaseHeldError):
        waiter.acquire(timeout_s=FAST.ttl_s * 1.5)
    holder.check()
    holder.release()
    waiter.acquire(timeout_s=FAST.ttl_s)  # released: free at once
    waiter.release()
    assert read_object(path) is None

    silent = ObjectLease(path, FAST.model_copy(update={"renew_s": 60.0}))  # stops renewing
    silent.acquire()
    started = time.monotonic()
    waiter = ObjectLease(path, FAST)
    waiter.acquire(timeout_s=FAST.ttl_s * 3)
    assert time.monotonic() - started >= FAST.ttl_s
    with pytest.raises(LeaseLostError):
        silent.check()
    silent.release()  # not its own any more: left alone
    assert read_object(path) is not None
    waiter.release()
    assert read_object(path) is None


def test_a_writer_that_lost_its_lease_does_not_commit(s3_root: RemotePath) -> None:
    lake = s3_root / "events"
    _commit_one_more(lake, "first")
    pointer = (lake / POINTER).read_bytes()
    successor = ObjectLease(lock_path(lake), FAST)
    silent = FAST.model_copy(update={"renew_s": 60.0})
    lost = pytest.raises(LeaseLostError)
    with lost, hold_lease(lock_path(lake), silent), atomic_dir(lake) as tmp:
        write_parquet(pa.table({"row": ["late"]}), tmp / "part-0.parquet")
        successor.acquire(timeout_s=FAST.ttl_s * 3)
    successor.release()
    assert (lake / POINTER).read_bytes() == pointer
    assert _rows(lake) == ["first"]


def test_uncommitted_versions_are_discarded_only_under_the_writer_lease(
    s3_root: RemotePath, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.object_lease, "TIMING", HANDOVER)
    lake = s3_root / "events"
    _commit_one_more(lake, "first")
    being_written = lake / VERSIONS / "another-writer" / "part-0.parquet"
    write_parquet(pa.table({"row": ["x"]}), being_written)
    other = ObjectLease(lock_path(lake), HANDOVER)
    other.acquire()
    with ThreadPoolExecutor(1) as pool:
        discarding = pool.submit(discard_uncommitted, lake)
        time.sleep(1.0)
        assert being_written.exists() and not discarding.done()
        other.release()  # that writer is done (its commit failed, say)
        discarding.result()
    assert not being_written.exists()
    assert _rows(lake) == ["first"]


def test_two_trainers_publishing_at_once_get_two_versions(s3_root: RemotePath) -> None:
    both_trained = threading.Barrier(2, timeout=30)

    def publish(weights: str) -> ModelManifest:
        def write(folder: Path) -> None:
            (folder / "weights.txt").write_text(weights)
            both_trained.wait()  # both look for the next version number at once

        return Registry(s3_root / "registry").publish("rank", "mlp", write, {}, "snapshot")

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(publish, ["a", "b"])

    registry = Registry(s3_root / "registry")
    assert {first.version, second.version} == {"v1", "v2"}
    assert registry.versions("rank", "mlp") == ["v1", "v2"]
    for manifest, weights in ((first, "a"), (second, "b")):
        assert (registry.path(manifest.ref()) / "weights.txt").read_text() == weights


def test_a_publish_leaves_a_version_another_trainer_is_uploading(s3_root: RemotePath) -> None:
    registry = Registry(s3_root / "registry")
    uploading = s3_root / "registry" / "rank" / "mlp" / "v1"
    (uploading / CLAIM).write_text('{"owner": "another trainer"}')
    (uploading / "weights.txt").write_text("theirs")
    manifest = registry.publish(
        "rank", "mlp", lambda f: (f / "weights.txt").write_text("mine"), {}, "s"
    )
    assert manifest.version == "v2"
    assert (uploading / "weights.txt").read_text() == "theirs"
