"""The events lake: month partitions of Parquet, rewritten as a whole new version per commit.

A commit merges new events into the months they touch (`ingest.lake.month_merge`, dropping
duplicate `event_id`s), or, for the stream's new events, adds them as a file of their own to
each month they touch (`append_event_rows`); it links the untouched months (and files) over
from the previous version, and renames
the new version into place after its manifest is written (on an object store: writes the
pointer that names it, see `core.storage`), so a reader (or a killed ingest) only ever sees a
whole version.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InvalidInputError
from core.filesystem import (
    RemotePath,
    StoragePath,
    copy_tree,
    parquet_rows,
    read_parquet,
    remove_tree,
    write_parquet,
)
from core.storage import (
    OutputManifest,
    atomic_dir,
    committed,
    discard_uncommitted,
    fsync_path,
    read_manifest,
    write_manifest,
)
from core.tables import EVENTS, ITEMS, QUARANTINE
from core.writer_lock import writer_lock
from ingest.lake.month_merge import (
    DICTIONARY_COLUMNS,
    first_of_each_id,
    merge_buckets,
    month_dir,
    write_merged_month,
)
from ingest.lake.progress import Progress
from ingest.lake.task_dataset import one_task_per_item


def recover(lake: StoragePath) -> None:
    """Bring a lake back to its last committed version after a killed commit.

    `atomic_dir` renames the old version aside before renaming the new one in; a kill between
    the two leaves only the aside copy, which still holds the last committed manifest.
    Temporary folders of killed runs are removed (on an object store: staging folders and
    versions that no pointer names).
    """
    if isinstance(lake, RemotePath):
        # Under the writer lock (taken here unless this thread holds it): what lies there
        # otherwise may be a live writer's.
        with writer_lock(lake):
            for folder in lake.parent.glob(f".{lake.name}.*.tmp"):
                remove_tree(folder)
            discard_uncommitted(lake)
        return
    if not lake.parent.is_dir():
        return
    for folder in lake.parent.glob(f".{lake.name}.*.tmp"):
        shutil.rmtree(folder, ignore_errors=True)
    aside = [p for p in lake.parent.glob(f".{lake.name}.*.old") if read_manifest(p) is not None]
    if not lake.exists() and aside:
        os.replace(max(aside, key=lambda p: p.stat().st_mtime), lake)
    for folder in lake.parent.glob(f".{lake.name}.*.old"):
        shutil.rmtree(folder, ignore_errors=True)


# What a lake's event_id holds, in its manifest: lakes written before it held text ids, which
# cannot merge with int64 keys.
EVENT_IDS = "event_ids"
EVENT_ID_FORMAT = "int64 key"
# How `source_key` marks a file that lies inside the home.
HOME_SOURCE = "<home>/"


class OldLakeError(InvalidInputError):
    """A lake written by an earlier Starling, in a layout this one cannot add to."""


def check_format(lake: StoragePath) -> None:
    """Raise OldLakeError when the committed lake keys events differently from this version."""
    manifest = read_manifest(lake)
    if manifest is not None and manifest.extra.get(EVENT_IDS) != EVENT_ID_FORMAT:
        raise OldLakeError(
            f"the lake {lake} was written by an earlier Starling (text event ids); move it away "
            "and ingest its sources again"
        )


def count_rows(lake: StoragePath) -> int:
    manifest = read_manifest(lake)
    return 0 if manifest is None else manifest.rows.get("events", 0)


def staging_dir(lake: StoragePath, run_id: str) -> StoragePath:
    """Where an ingest stages new rows; named so that `recover` removes it after a kill."""
    return lake.with_name(f".{lake.name}.staging-{run_id}.tmp")


def commit_events(
    staging: StoragePath,
    buckets: int,
    skip_files: list[int],
    staged_rows: int,
    lake: StoragePath,
    sources: dict[str, str],
    source_name: str,
    progress: Progress,
) -> tuple[int, int]:
    """Merge the staged rows (`ingest.lake.stage_chunks`) into a new version of the lake.

    Files numbered in `skip_files` are left out; `staged_rows` (the rows of the others) is the
    total of the progress bar. `sources` maps each ingested source file to
    its fingerprint; they are remembered so that a folder ingested again only adds new files.
    Returns (rows in the lake, rows added).
    """
    before = count_rows(lake)
    previous = read_manifest(lake)
    known_sources = dict(previous.extra.get("sources", {})) if previous else {}
    with atomic_dir(lake) as tmp:
        kwargs = {
            "staging": staging,
            "skip_files": skip_files,
            "old_lake": committed(lake),
            "new_lake": tmp,
            "source": source_name,
        }
        merged = one_task_per_item([{"bucket": b} for b in range(buckets)], merge_buckets, kwargs)
        with progress.bar("merging months", staged_rows, "rows") as bar:
            for batch in merged.iter_batches(batch_format="pyarrow", batch_size=None):
                bar.advance(pc.sum(batch["staged"]).as_py() or 0)
        total = _finish_version(tmp, lake, {**known_sources, **sources})
    return total, total - before


def commit_event_rows(events: pd.DataFrame, lake: StoragePath) -> tuple[int, int]:
    """Merge a small in-memory batch of EVENTS rows into the lake without Ray (the stream
    consumer's batches). Events whose `event_id` the lake holds already are dropped, so a batch
    committed twice lands once. Returns (rows in the lake, rows added)."""
    before = count_rows(lake)
    previous = read_manifest(lake)
    sources = dict(previous.extra.get("sources", {})) if previous else {}
    table = pa.Table.from_pandas(events, schema=EVENTS, preserve_index=False)
    months = pc.strftime(table["ts"], format="%Y-%m")
    with atomic_dir(lake) as tmp:
        for month in sorted(set(months.to_pylist())):
            write_merged_month(committed(lake), tmp, month, table.filter(pc.equal(months, month)))
        total = _finish_version(tmp, lake, sources)
    return total, total - before


def append_event_rows(
    events: pd.DataFrame, lake: StoragePath, compact_files: int
) -> tuple[int, int]:
    """Add a batch of EVENTS rows that the lake cannot hold yet (stream entries delivered for
    the first time) as one new file per month they touch, beside that month's files, so that
    a commit writes what it adds rather than the months it touches. A month that already holds
    `compact_files` files is merged into one instead (each event_id once), which bounds how
    many small files readers open. The manifest's count grows by the rows added, so a commit
    reads no other month's files. Returns (rows in the lake, rows added)."""
    before = count_rows(lake)
    previous = read_manifest(lake)
    sources = dict(previous.extra.get("sources", {})) if previous else {}
    table = first_of_each_id(pa.Table.from_pandas(events, schema=EVENTS, preserve_index=False))
    months = pc.strftime(table["ts"], format="%Y-%m")
    current = committed(lake)
    name = f"stream-{uuid.uuid4().hex}.parquet"
    added = 0
    with atomic_dir(lake) as tmp:
        for month in sorted(set(months.to_pylist())):
            rows = table.filter(pc.equal(months, month))
            old = month_dir(current, month)
            files = (
                [f for f in old.iterdir() if f.name.endswith(".parquet")] if old.is_dir() else []
            )
            if len(files) >= compact_files:
                merged = write_merged_month(current, tmp, month, rows)
                added += merged - sum(parquet_rows(f) for f in files)
                continue
            if files:
                copy_tree(old, month_dir(tmp, month))
            else:
                month_dir(tmp, month).mkdir()
            write_parquet(rows, month_dir(tmp, month) / name, use_dictionary=DICTIONARY_COLUMNS)
            added += rows.num_rows
        total = _finish_version(tmp, lake, sources, before + added)
    return total, added


def _finish_version(
    tmp: StoragePath, lake: StoragePath, sources: dict[str, str], total: int | None = None
) -> int:
    """Link the months `tmp` does not rewrite from the lake and write the manifest; `total`
    is the version's row count when the caller knows it, else every file's footer says."""
    touched = {p.name for p in tmp.iterdir() if p.is_dir()}
    current = committed(lake)
    if current.is_dir():
        for folder in current.iterdir():
            if folder.is_dir() and folder.name not in touched:
                copy_tree(folder, tmp / folder.name)
    if total is None:
        total = sum(parquet_rows(f) for f in tmp.rglob("*.parquet") if f.is_file())
    write_manifest(
        tmp,
        OutputManifest(
            step="ingest",
            inputs={},
            rows={"events": total},
            extra={"sources": sources, EVENT_IDS: EVENT_ID_FORMAT},
        ),
    )
    return total


def ingested_sources(lake: StoragePath) -> dict[str, str]:
    """Source file -> fingerprint of everything already committed to the lake."""
    manifest = read_manifest(lake)
    return dict(manifest.extra.get("sources", {})) if manifest else {}


def source_key(path: str | Path, home: Path) -> str:
    """The name the lake remembers a source file by: its place in the home for a file inside
    it (the synthetic set), so that a moved or copied home knows the file is in already and
    ingests, builds and trains nothing again; its absolute path otherwise."""
    resolved, root = Path(path).resolve(), home.resolve()
    if resolved.is_relative_to(root):
        return f"{HOME_SOURCE}{resolved.relative_to(root)}"
    return str(resolved)


def write_items(items: pa.Table, folder: StoragePath, source: str) -> int:
    """Replace the catalog, keeping earlier items that the new source does not mention."""
    old = None
    if read_manifest(folder) is not None:
        old = read_parquet(committed(folder) / "items.parquet").cast(ITEMS)
        keep = ~pd.Series(old["item_id"].to_numpy()).isin(items["item_id"].to_numpy())
        items = pa.concat_tables([old.filter(pa.array(keep.to_numpy())), items])
    items = items.sort_by("item_id")
    if old is not None and old.equals(items):
        # An unchanged catalog keeps its manifest, so features built from it stay fresh.
        return len(items)
    with atomic_dir(folder) as tmp:
        write_parquet(items, tmp / "items.parquet")
        write_manifest(
            tmp,
            OutputManifest(step="ingest", inputs={"source": source}, rows={"items": len(items)}),
        )
    return len(items)


def write_quarantine(rows: pa.Table, folder: StoragePath, run_id: str) -> None:
    """Keep every rejected row, one file per ingest run.

    `run_id` is derived from the files being ingested, so a run repeated after a crash
    replaces its own earlier file instead of quarantining the same rows twice.
    """
    if not rows.num_rows:
        return
    if isinstance(folder, RemotePath):
        write_parquet(rows.cast(QUARANTINE), folder / f"{run_id}.parquet")
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{run_id}.parquet.tmp"
    write_parquet(rows.cast(QUARANTINE), tmp)
    # Durable before the commit that follows it: a crash must not keep the accepted rows and
    # lose the rejected ones, which nothing would then report.
    fsync_path(tmp)
    os.replace(tmp, folder / f"{run_id}.parquet")
    fsync_path(folder)
