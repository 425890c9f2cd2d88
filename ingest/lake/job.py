"""`starling ingest`: a source (MovieLens release or event log) into the validated lake."""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
from pydantic import BaseModel, Field

from core.filesystem import StoragePath, remove_tree
from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import fingerprint, read_manifest
from core.tables import QUARANTINE
from core.writer_lock import writer_lock
from ingest.lake.chunks import FilePlan, changed_since_planned, line_offsets, plan_file
from ingest.lake.parse_chunk import FILE_ERROR
from ingest.lake.progress import Progress
from ingest.lake.sources.detect import detect_source
from ingest.lake.sources.event_log import EventLogOptions
from ingest.lake.sources.spec import SourcePlan
from ingest.lake.stage_chunks import STAGE_RESULT, ChunkTask, stage_chunks
from ingest.lake.task_dataset import one_task_per_item
from ingest.lake.validate import REASON, EventRules
from ingest.lake.versions import (
    check_format,
    commit_events,
    count_rows,
    ingested_sources,
    recover,
    source_key,
    staging_dir,
    write_items,
    write_quarantine,
)
from ingest.lake.warm_workers import warm_workers

log = logging.getLogger(__name__)

# Source text per bucket of months in the merge: a bucket's rows stay well under a GiB.
BUCKET_BYTES = 64 * 1024 * 1024


class IngestSummary(BaseModel):
    """What one ingest run did."""

    source: str
    kind: str = Field(description="movielens-csv, movielens-dat, movielens-100k or event-log")
    rows_read: int
    accepted: int
    duplicates: int
    quarantined: dict[str, int] = Field(description="quarantined rows by reason")
    unreadable_files: dict[str, str] = Field(description="file -> why none of it was ingested")
    items: int
    lake_rows: int
    skipped_files: list[str] = Field(description="files ingested before, unchanged since")
    notes: list[str]
    seconds: float


def ingest_source(
    settings: Settings,
    paths: StarlingPaths,
    source: Path,
    options: EventLogOptions | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Validate and commit every new file of `source`; files ingested before are skipped.

    Bad rows go to the quarantine with their reason, file and line; a file that cannot be read
    at all is reported and left out whole, so that it is tried again once fixed. The whole run
    holds the lake's writer lock: its staging folder lies beside the lake, where another
    writer's recovery would remove it.
    """
    with writer_lock(paths.events):
        return _ingest(settings, paths, source, options, progress or Progress("ingest"))


def _ingest(
    settings: Settings,
    paths: StarlingPaths,
    source: Path,
    options: EventLogOptions | None,
    progress: Progress,
) -> IngestSummary:
    warm_workers()
    recover(paths.events)
    recover(paths.items)
    check_format(paths.events)
    plan = detect_source(source, options)
    progress.phase(f"{source}: {plan.kind}, {len(plan.files)} event file(s)")
    unreadable: dict[str, str] = {}
    items = _write_catalog(plan, paths, source, unreadable)
    known = ingested_sources(paths.events)
    stamps = {source_key(spec.path, paths.home): fingerprint(spec.path) for spec in plan.files}
    skipped = [name for name, stamp in stamps.items() if known.get(name) == stamp]
    plans = [plan_file(s) for s in plan.files if source_key(s.path, paths.home) not in skipped]
    unreadable |= {p.path: p.error for p in plans if p.error is not None}
    summary = IngestSummary(
        source=str(source),
        kind=plan.kind,
        rows_read=0,
        accepted=0,
        duplicates=0,
        quarantined={},
        unreadable_files=unreadable,
        items=items,
        lake_rows=count_rows(paths.events),
        skipped_files=skipped,
        notes=plan.notes,
        seconds=0.0,
    )
    if any(p.chunks for p in plans):
        summary = _ingest_chunks(settings, paths, source, plans, summary, progress)
    summary.seconds = progress.elapsed()
    for line in summary_lines(summary):
        progress.phase(line)
    return summary


def summary_lines(summary: IngestSummary) -> list[str]:
    """The closing summary: counts, quarantine by reason, unreadable files, time taken."""
    quarantined = sum(summary.quarantined.values())
    lines = [
        f"done in {summary.seconds:.1f} s: {summary.rows_read:,} rows read, "
        f"{summary.accepted:,} accepted, {summary.duplicates:,} duplicates, "
        f"{quarantined:,} quarantined, {len(summary.unreadable_files)} unreadable file(s); "
        f"the lake holds {summary.lake_rows:,} events"
    ]
    by_count = sorted(summary.quarantined.items(), key=lambda item: -item[1])
    lines += [f"  quarantined {count:,}: {reason}" for reason, count in by_count]
    lines += [f"  unreadable {name}: {why}" for name, why in summary.unreadable_files.items()]
    return lines


def _write_catalog(
    plan: SourcePlan, paths: StarlingPaths, source: Path, unreadable: dict[str, str]
) -> int:
    if plan.read_items is not None:
        try:
            return write_items(plan.read_items(), paths.items, str(source.resolve()))
        except (UnicodeDecodeError, ValueError, KeyError, OSError) as exc:
            unreadable[f"{source} (catalog)"] = str(exc)
    manifest = read_manifest(paths.items)
    return 0 if manifest is None else manifest.rows.get("items", 0)


def _buckets(size: int) -> int:
    """Buckets of months for the merge: every CPU busy, about BUCKET_BYTES of source text each."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2 * cpus, math.ceil(size / BUCKET_BYTES))


def _validate(
    tasks: list[ChunkTask],
    rules: EventRules,
    staging: StoragePath,
    buckets: int,
    progress: Progress,
) -> pa.Table:
    """Stage one over every chunk (Ray Data, one task per chunk); their STAGE_RESULT rows."""
    kwargs = {"rules": rules, "staging": staging, "buckets": buckets}
    items = [{"task": t.model_dump_json()} for t in tasks]
    checked = one_task_per_item(items, stage_chunks, kwargs)
    results = [STAGE_RESULT.empty_table()]
    total = sum(t.size() for t in tasks)
    with progress.bar("validating", total, "MB", scale=1e6) as bar:
        for batch in checked.iter_batches(batch_format="pyarrow", batch_size=None):
            results.append(batch.select(STAGE_RESULT.names).cast(STAGE_RESULT))
            bar.advance(pc.sum(batch["bytes"]).as_py() or 0)
    return pa.concat_tables(results)


def _chunk_line_offsets(results: pa.Table) -> np.ndarray:
    """Per STAGE_RESULT row, what turns its chunk's line numbers into its file's."""
    files = results["file"].to_numpy()
    chunks = results["chunk"].to_numpy()
    breaks = results["line_breaks"].to_numpy()
    offsets = np.zeros(results.num_rows, dtype=np.int64)
    for file in np.unique(files):
        rows = np.flatnonzero(files == file)
        in_order = rows[np.argsort(chunks[rows])]
        offsets[in_order] = line_offsets(breaks[in_order])
    return offsets


def _quarantine_rows(results: pa.Table, names: list[str]) -> pa.Table:
    """QUARANTINE rows of the bad rows in STAGE_RESULT rows; `names` are the files by number."""
    bad = results["bad"].combine_chunks()
    rows = pc.list_flatten(bad)
    parents = pc.list_parent_indices(bad).to_numpy()
    files = results["file"].combine_chunks().take(pa.array(parents))
    lines = rows.field("line").to_numpy(zero_copy_only=False)
    return pa.table(
        {
            "source": pa.array(names, pa.string()).take(files),
            "line": pa.array(lines + _chunk_line_offsets(results)[parents]),
            "reason": rows.field(REASON),
            "raw": rows.field("raw"),
        },
        schema=QUARANTINE,
    )


def _ingest_chunks(
    settings: Settings,
    paths: StarlingPaths,
    source: Path,
    plans: list[FilePlan],
    summary: IngestSummary,
    progress: Progress,
) -> IngestSummary:
    readable = [p for p in plans if p.error is None]
    tasks = [
        ChunkTask(chunk=chunk, file=number, index=index)
        for index, (number, chunk) in enumerate(
            (number, chunk) for number, p in enumerate(readable) for chunk in p.chunks
        )
    ]
    size = sum(t.size() for t in tasks)
    files = len(readable)
    progress.phase(f"validating {len(tasks)} chunk(s) of {files} file(s), {size / 1e6:.0f} MB")
    rules = EventRules(
        min_value=settings.data.rating_min,
        max_value=settings.data.rating_max,
        now_ms=int(datetime.now(UTC).timestamp() * 1000),
    )
    buckets = _buckets(size)
    staging = staging_dir(paths.events, uuid.uuid4().hex)
    staging.mkdir(parents=True)
    try:
        results = _validate(tasks, rules, staging, buckets, progress)
        failed = results.filter(pc.is_valid(results[FILE_ERROR]))
        errors = dict(zip(failed["file"].to_pylist(), failed[FILE_ERROR].to_pylist(), strict=True))
        changed = ((n, changed_since_planned(p)) for n, p in enumerate(readable) if n not in errors)
        errors |= {n: why for n, why in changed if why is not None}
        unreadable = summary.unreadable_files | {readable[n].path: e for n, e in errors.items()}
        dropped = pc.is_in(results["file"], pa.array(list(errors), pa.int32()))
        kept = results.filter(pc.invert(dropped))
        quarantine = _quarantine_rows(kept, [p.path for p in readable])
        read = pc.sum(kept["rows"]).as_py() or 0
        progress.phase(
            f"validated {read:,} rows: {quarantine.num_rows:,} quarantined, "
            f"{len(errors)} file(s) unreadable"
        )
        # The plan's fingerprints, not today's: a file that grew since is read again next time.
        stamps = {
            source_key(p.path, paths.home): p.stamp
            for n, p in enumerate(readable)
            if n not in errors
        }
        if not stamps:
            return summary.model_copy(update={"unreadable_files": unreadable})
        run_id = hashlib.sha256(repr(sorted(stamps.items())).encode()).hexdigest()[:16]
        write_quarantine(quarantine, paths.quarantine, run_id)
        progress.phase("committing the lake")
        accepted = read - quarantine.num_rows
        lake_rows, added = commit_events(
            staging,
            buckets,
            sorted(errors),
            accepted,
            paths.events,
            stamps,
            source.name,
            progress,
        )
    finally:
        remove_tree(staging)
    reasons = pc.value_counts(quarantine["reason"]).to_pylist()
    return summary.model_copy(
        update={
            "rows_read": read,
            "accepted": accepted,
            "duplicates": accepted - added,
            "quarantined": {r["values"]: r["counts"] for r in reasons},
            "unreadable_files": unreadable,
            "lake_rows": lake_rows,
        }
    )
