"""Reading the Parquet folders that the data job writes (they also hold manifests and such)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from core.errors import MissingDataError
from core.filesystem import StoragePath, arrow_location
from core.storage import committed


def parquet_files(folder: StoragePath) -> tuple[list[str], pafs.FileSystem | None]:
    """The committed Parquet files under `folder`, sorted, and the filesystem they are on;
    other files (e.g. `_manifest.json`) are skipped."""
    files = sorted(p for p in committed(folder).rglob("*.parquet") if p.is_file())
    if not files:
        raise MissingDataError(f"no Parquet files under {folder}; run the data job first")
    return [arrow_location(p)[0] for p in files], arrow_location(files[0])[1]


def read_folder(
    folder: StoragePath, columns: list[str] | None = None, where: pc.Expression | None = None
) -> pa.Table:
    """All rows of a Parquet folder as one table (those matching `where`, when given), with
    only `columns` when given."""
    files, fs = parquet_files(folder)
    dataset = ds.dataset(files, filesystem=fs, format="parquet")
    return dataset.to_table(columns=columns, filter=where)


def read_sample(
    folder: StoragePath,
    columns: list[str],
    max_rows: int,
    seed: int,
    where: pc.Expression | None = None,
) -> pa.Table:
    """A uniform sample of at most `max_rows` of a Parquet folder's rows (those matching
    `where`, when given), in the folder's order; every such row when there are no more.

    Read batch by batch, so the whole folder is never in memory: at ml-25m's size the samples
    are ~60M rows, more than a 2-core, 24 GiB machine can train on or hold as tensors.
    """
    files, fs = parquet_files(folder)
    dataset = ds.dataset(files, filesystem=fs, format="parquet")
    total = dataset.count_rows(filter=where)
    if total <= max_rows:
        return dataset.to_table(columns=columns, filter=where)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=max_rows, replace=False))
    parts: list[pa.RecordBatch] = []
    start = 0
    for batch in dataset.to_batches(columns=columns, filter=where):
        end = start + batch.num_rows
        inside = chosen[np.searchsorted(chosen, start) : np.searchsorted(chosen, end)]
        parts.append(batch.take(pa.array(inside - start)))
        start = end
    schema = pa.schema([dataset.schema.field(name) for name in columns])
    return pa.Table.from_batches(parts, schema=schema)


def count_rows(folder: StoragePath, where: pc.Expression | None = None) -> int:
    """How many rows of a Parquet folder match `where` (all of them when None)."""
    files, fs = parquet_files(folder)
    return ds.dataset(files, filesystem=fs, format="parquet").count_rows(filter=where)
