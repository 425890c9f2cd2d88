"""Reading the lake for the features job and committing its output folders with manifests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
from ray.data import DataContext

from core.errors import MissingDataError
from core.events import IMPRESSION
from core.filesystem import StoragePath, arrow_location, write_parquet
from core.storage import OutputManifest, atomic_dir, committed, parquet_dataset, write_manifest
from ingest.features.impressions import IMPRESSIONS
from ingest.features.interactions import interaction_filter
from ingest.features.item_attributes import epoch_ms

# Rows of one part of the user side: a part's windows and sample files stay well under a GiB.
ROWS_PER_PART = 500_000
# The event columns the features job reads of an interaction: `source` costs a string per row.
INTERACTION_COLUMNS = ["event_id", "user_id", "item_id", "event_type", "value", "ts"]


def configure_ray_data() -> None:
    """Quiet Ray Data, and read Parquet with the V1 reader.

    The V2 reader of Ray 2.60 starts 32 footer-reading actors per read: listing the 268 month
    files of ml-latest-small took 25 s on 2 cores, against 1 s for V1.
    """
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.use_datasource_v2 = False


def _dataset(folder: StoragePath) -> pds.Dataset:
    """A lake folder's committed Parquet files; `_manifest.json` and hidden files are skipped
    by name."""
    if not committed(folder).is_dir():
        raise MissingDataError(f"{folder} does not exist: run `starling ingest` first")
    return parquet_dataset(folder)


def read_interactions(folder: StoragePath, schema: pa.Schema) -> pa.Table:
    """The interaction events (`core.labels.INTERACTION_TYPES`) of the lake `folder`:
    INTERACTION_COLUMNS cast to `schema`'s types.

    Filtered while scanning, so the other events (impressions) are never held.
    """
    table = _dataset(folder).to_table(columns=INTERACTION_COLUMNS, filter=interaction_filter())
    return table.cast(pa.schema([schema.field(name) for name in INTERACTION_COLUMNS]))


def read_impressions(folder: StoragePath) -> pa.Table:
    """The lake's impressions as IMPRESSIONS rows (`ingest.features.impressions`)."""
    table = _dataset(folder).to_table(
        columns=["event_id", "user_id", "item_id", "ts"],
        filter=pc.field("event_type") == IMPRESSION,
    )
    return pa.table(
        {
            "event_id": table["event_id"].cast(pa.int64()),
            "user_id": table["user_id"].cast(pa.int64()),
            "item_id": table["item_id"].cast(pa.int64()),
            "ts_ms": epoch_ms(table["ts"]),
        },
        schema=IMPRESSIONS,
    )


def event_batches(folder: StoragePath, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Every event of the lake `folder`, a few columns a batch at a time."""
    return iter(_dataset(folder).to_batches(columns=columns))


def read_table(folder: StoragePath, schema: pa.Schema) -> pa.Table:
    """A small lake folder (the item catalog) as one Arrow table cast to `schema`."""
    return _dataset(folder).to_table(columns=schema.names).cast(schema)


def count_rows(folder: StoragePath) -> int:
    return parquet_dataset(folder).count_rows()


def commit_parts(tmp: StoragePath, schema: pa.Schema, manifest: OutputManifest) -> int:
    """Record the row count of the Parquet parts in `tmp` (a folder being written, not yet
    committed) in `manifest` and write it.

    A folder without parts gets one empty file with the schema so that readers find a table.
    """
    if not any(tmp.glob("*.parquet")):
        write_parquet(schema.empty_table(), tmp / "part-0.parquet")
    path, fs = arrow_location(tmp)
    rows = pds.dataset(path, filesystem=fs, format="parquet").count_rows()
    manifest.rows["rows"] = rows
    write_manifest(tmp, manifest)
    return rows


def write_table(table: pa.Table, target: StoragePath, manifest: OutputManifest) -> int:
    """Write a driver-side table as one Parquet file into `target` atomically, with `manifest`."""
    with atomic_dir(target) as tmp:
        write_parquet(table, tmp / "part-0.parquet")
        manifest.rows["rows"] = table.num_rows
        write_manifest(tmp, manifest)
    return table.num_rows
