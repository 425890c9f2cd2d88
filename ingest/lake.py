"""The events lake: month partitions of Parquet, rewritten as a whole new version per commit.

A commit merges new events into the months they touch (`ingest.month_merge`, dropping
duplicate `event_id`s), links the untouched months over from the previous version, and renames
the new version into place after its manifest is written, so a reader (or a killed ingest)
only ever sees a whole version.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data

from core.storage import OutputManifest, atomic_dir, read_manifest, write_manifest
from core.tables import EVENTS, ITEMS, QUARANTINE
from ingest.month_merge import merge_buckets, write_merged_month
from ingest.progress import Progress


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a partition folder (copy when the filesystem cannot link)."""
    dst.mkdir(parents=True)
    for file in src.iterdir():
        try:
            os.link(file, dst / file.name)
        except OSError:
            shutil.copy2(file, dst / file.name)


def recover(lake: Path) -> None:
    """Bring a lake back to its last committed version after a killed commit.

    `atomic_dir` renames the old version aside before renaming the new one in; a kill between
    the two leaves only the aside copy, which still holds the last committed manifest.
    Temporary folders of killed runs are removed.
    """
    if not lake.parent.is_dir():
        return
    for folder in lake.parent.glob(f".{lake.name}.*.tmp"):
        shutil.rmtree(folder, ignore_errors=True)
    aside = [p for p in lake.parent.glob(f".{lake.name}.*.old") if read_manifest(p) is not None]
    if not lake.exists() and aside:
        os.replace(max(aside, key=lambda p: p.stat().st_mtime), lake)
    for folder in lake.parent.glob(f".{lake.name}.*.old"):
        shutil.rmtree(folder, ignore_errors=True)


def count_rows(lake: Path) -> int:
    manifest = read_manifest(lake)
    return 0 if manifest is None else manifest.rows.get("events", 0)


def staging_dir(lake: Path, run_id: str) -> Path:
    """Where an ingest stages new rows; named so that `recover` removes it after a kill."""
    return lake.with_name(f".{lake.name}.staging-{run_id}.tmp")


def commit_events(
    staging: Path,
    buckets: int,
    skip_files: list[int],
    staged_rows: int,
    lake: Path,
    sources: dict[str, str],
    source_name: str,
    progress: Progress,
) -> tuple[int, int]:
    """Merge the staged rows (`ingest.stage_chunks`) into a new version of the lake.

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
            "staging": str(staging),
            "skip_files": skip_files,
            "old_lake": str(lake),
            "new_lake": str(tmp),
            "source": source_name,
        }
        merged = ray.data.from_items(
            [{"bucket": b} for b in range(buckets)], override_num_blocks=buckets
        ).map_batches(merge_buckets, fn_kwargs=kwargs, batch_size=1, batch_format="pyarrow")
        with progress.bar("merging months", staged_rows, "rows") as bar:
            for batch in merged.iter_batches(batch_format="pyarrow", batch_size=None):
                bar.advance(pc.sum(batch["staged"]).as_py() or 0)
        total = _finish_version(tmp, lake, {**known_sources, **sources})
    return total, total - before


def commit_event_rows(events: pd.DataFrame, lake: Path) -> tuple[int, int]:
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
            write_merged_month(lake, tmp, month, table.filter(pc.equal(months, month)))
        total = _finish_version(tmp, lake, sources)
    return total, total - before


def _finish_version(tmp: Path, lake: Path, sources: dict[str, str]) -> int:
    """Link the months `tmp` does not rewrite from the lake and write the manifest."""
    touched = {p.name for p in tmp.iterdir() if p.is_dir()}
    if lake.is_dir():
        for folder in lake.iterdir():
            if folder.is_dir() and folder.name not in touched:
                _link_tree(folder, tmp / folder.name)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in tmp.rglob("*.parquet") if f.is_file())
    write_manifest(
        tmp,
        OutputManifest(
            step="ingest", inputs={}, rows={"events": total}, extra={"sources": sources}
        ),
    )
    return total


def ingested_sources(lake: Path) -> dict[str, str]:
    """Source file -> fingerprint of everything already committed to the lake."""
    manifest = read_manifest(lake)
    return dict(manifest.extra.get("sources", {})) if manifest else {}


def write_items(items: pa.Table, folder: Path, source: str) -> int:
    """Replace the catalog, keeping earlier items that the new source does not mention."""
    old = None
    if read_manifest(folder) is not None:
        old = pq.read_table(folder / "items.parquet").cast(ITEMS)
        keep = ~pd.Series(old["item_id"].to_numpy()).isin(items["item_id"].to_numpy())
        items = pa.concat_tables([old.filter(pa.array(keep.to_numpy())), items])
    items = items.sort_by("item_id")
    if old is not None and old.equals(items):
        # An unchanged catalog keeps its manifest, so features built from it stay fresh.
        return len(items)
    with atomic_dir(folder) as tmp:
        pq.write_table(items, tmp / "items.parquet")
        write_manifest(
            tmp,
            OutputManifest(step="ingest", inputs={"source": source}, rows={"items": len(items)}),
        )
    return len(items)


def write_quarantine(rows: pa.Table, folder: Path, run_id: str) -> None:
    """Keep every rejected row, one file per ingest run.

    `run_id` is derived from the files being ingested, so a run repeated after a crash
    replaces its own earlier file instead of quarantining the same rows twice.
    """
    if not rows.num_rows:
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{run_id}.parquet.tmp"
    pq.write_table(rows.cast(QUARANTINE), tmp)
    os.replace(tmp, folder / f"{run_id}.parquet")
