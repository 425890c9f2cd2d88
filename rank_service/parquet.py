"""Reading the Parquet folders that the data job writes (they also hold manifests and such)."""

from __future__ import annotations

import pyarrow as pa
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


def read_folder(folder: StoragePath, columns: list[str] | None = None) -> pa.Table:
    """All rows of a Parquet folder as one table, with only `columns` when given."""
    files, fs = parquet_files(folder)
    return ds.dataset(files, filesystem=fs, format="parquet").to_table(columns=columns)
