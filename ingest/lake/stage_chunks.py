"""Stage one of an ingest: each chunk parsed and validated in a Ray task, its good rows staged.

A task writes its good events to the staging folder as Arrow IPC files, one per bucket of
months (`month % buckets`), so that stage two (`ingest.lake.month_merge`) reads each month's new
rows from a few files instead of shuffling them through the object store. What a task returns
is one small row: how many rows it read, its bad rows, or why its file is unreadable.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from core.filesystem import RemotePath, StoragePath, open_output
from ingest.lake.chunks import Chunk
from ingest.lake.parse_chunk import FILE_ERROR, check_pieces
from ingest.lake.validate import CHECKED, MONTH, REASON, STAGED, EventRules, to_events

BAD_ROW = pa.struct(
    [pa.field("line", pa.int64()), pa.field(REASON, pa.string()), pa.field("raw", pa.string())]
)
# `line` of a bad row counts from 1 within its chunk; `chunk` and `line_breaks` (the chunk's)
# let the driver turn it into the file's line number (`ingest.lake.chunks.line_offsets`).
STAGE_RESULT = pa.schema(
    [
        pa.field("file", pa.int32()),
        pa.field("chunk", pa.int32()),
        pa.field("line_breaks", pa.int64()),
        pa.field("bytes", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field(FILE_ERROR, pa.string()),
        pa.field("bad", pa.list_(BAD_ROW)),
    ]
)


class ChunkTask(BaseModel, frozen=True):
    """One chunk, numbered within the run, and the number of its file."""

    chunk: Chunk
    file: int
    index: int

    def size(self) -> int:
        if self.chunk.end >= 0:
            return self.chunk.end - self.chunk.start
        return self.chunk.spec.path.stat().st_size


def bucket_dir(staging: StoragePath, bucket: int) -> StoragePath:
    return staging / f"bucket-{bucket:05d}"


def staged_file_index(path: StoragePath) -> int:
    """The file number in a staged file's name (`f00003-c000017-p00000.arrow` -> 3)."""
    return int(path.name[1:].split("-", 1)[0])


def _write_ipc(table: pa.Table, path: StoragePath) -> None:
    """Write atomically: a task that Ray retries replaces its own file, never half of one
    (an object appears whole when its upload completes).

    Only the bucket folder is created: a task that outlives its killed ingest finds the
    staging folder gone (the next run's recovery removed it) and fails instead of leaving a
    new one behind."""
    if isinstance(path, RemotePath):
        with open_output(path) as sink, pa.ipc.new_file(sink, STAGED) as writer:
            writer.write_table(table)
        return
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_output(tmp) as sink, pa.ipc.new_file(sink, STAGED) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def stage_events(
    events: pa.Table, task: ChunkTask, staging: StoragePath, buckets: int, piece: int = 0
) -> None:
    """Write STAGED `events` of a chunk's piece into one file per bucket of months they touch.

    A file's rows are ordered by month, line order kept within a month: the merge then takes
    each month as one slice of every file instead of gathering its rows from all of them (that
    gather across many files cost a third of the merge).
    """
    months = events[MONTH].to_numpy()
    if not len(months):
        return
    first = int(months.min())
    span = np.arange(first, int(months.max()) + 1)
    # Each month's place in (bucket, month) order. A stable sort of the rows' places is a radix
    # sort when places fit 16 bits: a lexsort of every row by (bucket, month) was 6 times slower.
    by_bucket = np.lexsort((span, span % buckets))
    place = np.empty(len(span), dtype=np.uint16 if len(span) <= 1 << 16 else np.int64)
    place[by_bucket] = np.arange(len(span))
    row_places = place[months - first]
    ordered = events.take(pa.array(np.argsort(row_places, kind="stable")))
    ends = np.cumsum(np.bincount(row_places, minlength=len(span)))
    bucket_of_place = span[by_bucket] % buckets
    present, first_places = np.unique(bucket_of_place, return_index=True)
    last_places = [*(first_places[1:] - 1), len(span) - 1]
    name = f"f{task.file:05d}-c{task.index:06d}-p{piece:05d}.arrow"
    for value, first_place, last_place in zip(present, first_places, last_places, strict=True):
        start = int(ends[first_place - 1]) if first_place else 0
        end = int(ends[last_place])
        if end > start:
            _write_ipc(ordered.slice(start, end - start), bucket_dir(staging, int(value)) / name)


def stage_chunk(task: ChunkTask, rules: EventRules, staging: StoragePath, buckets: int) -> pa.Table:
    """Check one chunk, stage its good rows piece by piece; one STAGE_RESULT row says what
    happened. Only the bad rows of the chunk are held until the end."""
    error, read, line_breaks = None, 0, 0
    rejected = [CHECKED.empty_table().select(BAD_ROW.names)]
    for number, (checked, breaks) in enumerate(check_pieces(task.chunk, rules)):
        if checked.num_rows and checked[FILE_ERROR][0].as_py():
            error = checked[REASON][0].as_py()
            break
        stage_events(to_events(checked), task, staging, buckets, number)
        rejected.append(checked.select(BAD_ROW.names).filter(pc.is_valid(checked[REASON])))
        read, line_breaks = read + checked.num_rows, line_breaks + breaks
    bad_rows = pa.concat_tables(rejected[:1] if error else rejected)
    rows = pa.StructArray.from_arrays(
        [bad_rows[name].combine_chunks() for name in BAD_ROW.names], fields=list(BAD_ROW)
    )
    bad = pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), rows)
    return pa.table(
        {
            "file": pa.array([task.file], pa.int32()),
            "chunk": pa.array([task.index], pa.int32()),
            "line_breaks": pa.array([line_breaks], pa.int64()),
            "bytes": pa.array([task.size()], pa.int64()),
            "rows": pa.array([0 if error else read], pa.int64()),
            FILE_ERROR: pa.array([error], pa.string()),
            "bad": bad,
        },
        schema=STAGE_RESULT,
    )


def stage_chunks(
    batch: pa.Table, rules: EventRules, staging: StoragePath, buckets: int
) -> pa.Table:
    """Ray Data UDF: a batch of serialised ChunkTasks -> their STAGE_RESULT rows."""
    results = [
        stage_chunk(ChunkTask.model_validate_json(text), rules, staging, buckets)
        for text in batch["task"].to_pylist()
    ]
    return pa.concat_tables(results)
