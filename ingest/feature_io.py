"""Reading the lake into Ray Data and writing feature folders atomically with their manifests."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import ray
from ray.data import DataContext, Dataset
from ray.data.context import ShuffleStrategy

from core.filesystem import StoragePath, arrow_location, write_parquet
from core.storage import (
    OutputManifest,
    atomic_dir,
    committed,
    committed_location,
    parquet_dataset,
    write_manifest,
)

# Large enough that MovieLens 25M samples land in a few dozen files, not hundreds of tiny ones.
ROWS_PER_FILE = 1_000_000
# Rows per shuffle partition: a block of user windows stays well under a GiB of memory.
ROWS_PER_PARTITION = 500_000
_HASH_SHUFFLES = (
    ShuffleStrategy.HASH_SHUFFLE,
    ShuffleStrategy.SHUFFLE_V2,
    ShuffleStrategy.GPU_SHUFFLE,
)


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


def shuffle_partitions(rows: int) -> int:
    """Partitions of a shuffle: every CPU busy, and blocks of at most ROWS_PER_PARTITION rows."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(cpus, math.ceil(rows / ROWS_PER_PARTITION))


def co_locate(ds: Dataset, key: str, partitions: int) -> Dataset:
    """`ds` reshuffled so that each block holds every row of its keys (all of a user's events).

    This is the shuffle `GroupedData.map_groups` runs before it hands whole blocks to its groups
    (a hash repartition on the key, or a sort); `per_block` then sees thousands of entities per
    call and computes them at once with numpy, where map_groups would call Python per entity.
    """
    if ds.context.shuffle_strategy in _HASH_SHUFFLES:
        return ds.repartition(partitions, keys=[key], sort=True)
    return ds.sort(key)


class SplitEntityError(RuntimeError):
    """An entity's rows reached `per_block` in more than one block: its features would be wrong."""


def check_one_row_per_key(keys: np.ndarray, key: str) -> None:
    """Raise SplitEntityError when a key repeats in a latest-features table.

    `per_block` emits one latest row per entity and block, so a repeated key is exactly an
    entity that `co_locate` left split across blocks. Ray 2.60 never splits a keyed
    repartition's output (`disallow_block_splitting`); this guards that assumption.
    """
    unique, counts = np.unique(keys, return_counts=True)
    if len(unique) != len(keys):
        examples = unique[counts > 1][:5].tolist()
        raise SplitEntityError(
            f"{len(keys) - len(unique)} {key} values were split across blocks (e.g. {examples})"
        )


def checked_per_key(ds: Dataset, key: str) -> Dataset:
    """`ds` (one row per `key`) materialized, after `check_one_row_per_key`."""
    ds = ds.materialize()
    batches = ds.select_columns([key]).iter_batches(batch_format="numpy", batch_size=None)
    parts = [batch[key] for batch in batches]
    check_one_row_per_key(np.concatenate(parts) if parts else np.empty(0, np.int64), key)
    return ds


def per_block(ds: Dataset, fn: Callable[..., pa.Table], **fn_kwargs: Any) -> Dataset:
    """Apply `fn` to each whole block of `ds` (a block of `co_locate` keeps its entities whole)."""
    return ds.map_batches(fn, batch_size=None, batch_format="pyarrow", fn_kwargs=fn_kwargs)


def read_dataset(folder: StoragePath, schema: pa.Schema) -> Dataset:
    """A lake folder as a Dataset with exactly the columns of `schema`.

    Selecting the schema's columns drops the hive partition column (`month=...`) that Ray Data
    adds from folder names; the `_manifest.json` beside the data is skipped by its extension.
    """
    if not committed(folder).is_dir():
        raise FileNotFoundError(f"{folder} does not exist: run `starling ingest` first")
    path, fs = committed_location(folder)
    return ray.data.read_parquet(path, filesystem=fs, file_extensions=["parquet"]).select_columns(
        schema.names
    )


def read_table(folder: StoragePath, schema: pa.Schema) -> pa.Table:
    """A small lake folder (the item catalog) as one Arrow table cast to `schema`."""
    blocks = ray.get(read_dataset(folder, schema).to_arrow_refs())
    if not blocks:
        return schema.empty_table()
    return pa.concat_tables([block.select(schema.names).cast(schema) for block in blocks])


def count_rows(folder: StoragePath) -> int:
    return parquet_dataset(folder).count_rows()


def write_dataset(
    ds: Dataset, target: StoragePath, schema: pa.Schema, manifest: OutputManifest
) -> int:
    """Write `ds` as Parquet into `target` atomically, commit `manifest`; returns the row count.

    An empty dataset still leaves one empty file with the schema so that readers find a table.
    """
    with atomic_dir(target) as tmp:
        path, fs = arrow_location(tmp)
        ds.write_parquet(path, filesystem=fs, min_rows_per_file=ROWS_PER_FILE)
        if not any(tmp.glob("*.parquet")):
            write_parquet(schema.empty_table(), tmp / "part-0.parquet")
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
