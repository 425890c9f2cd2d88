"""Reading the Parquet folders that the data job writes (they also hold manifests and such)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds


def parquet_files(folder: Path) -> list[str]:
    """The Parquet files under `folder`, sorted; other files (e.g. `_manifest.json`) are skipped."""
    files = sorted(str(p) for p in folder.rglob("*.parquet") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no Parquet files under {folder}; run the data job first")
    return files


def read_folder(folder: Path, columns: list[str] | None = None) -> pa.Table:
    """All rows of a Parquet folder as one table, with only `columns` when given."""
    return ds.dataset(parquet_files(folder), format="parquet").to_table(columns=columns)
