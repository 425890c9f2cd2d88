"""`starling ingest`: a source (MovieLens release or event log) into the validated lake."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import ray.data
from pydantic import BaseModel, Field
from ray.data.expressions import col

from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import fingerprint, read_manifest
from ingest.chunks import Chunk, FilePlan, plan_file
from ingest.lake import (
    commit_events,
    count_rows,
    ingested_sources,
    recover,
    write_items,
    write_quarantine,
)
from ingest.parse_chunk import FILE_ERROR, check_chunks
from ingest.progress import Progress
from ingest.sources.detect import detect_source
from ingest.sources.event_log import EventLogOptions
from ingest.sources.spec import SourcePlan
from ingest.validate import CHECKED_COLUMNS, REASON, EventRules, to_events

log = logging.getLogger(__name__)


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
    at all is reported and left out whole, so that it is tried again once fixed.
    """
    progress = progress or Progress("ingest")
    recover(paths.events)
    recover(paths.items)
    plan = detect_source(source, options)
    progress.phase(f"{source}: {plan.kind}, {len(plan.files)} event file(s)")
    unreadable: dict[str, str] = {}
    items = _write_catalog(plan, paths, source, unreadable)
    known = ingested_sources(paths.events)
    stamps = {str(spec.path.resolve()): fingerprint(spec.path) for spec in plan.files}
    skipped = [name for name, stamp in stamps.items() if known.get(name) == stamp]
    plans = [plan_file(spec) for spec in plan.files if str(spec.path.resolve()) not in skipped]
    unreadable |= {p.path: p.error for p in plans if p.error is not None}
    chunks = [chunk for p in plans for chunk in p.chunks]
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
    if chunks:
        summary = _ingest_chunks(settings, paths, source, chunks, plans, summary, progress)
    summary.seconds = progress.elapsed()
    progress.phase(
        f"done: {summary.rows_read:,} rows read, {summary.accepted:,} accepted, "
        f"{summary.duplicates:,} duplicates, {sum(summary.quarantined.values()):,} quarantined, "
        f"{len(summary.unreadable_files)} unreadable file(s); the lake holds "
        f"{summary.lake_rows:,} events"
    )
    return summary


def _write_catalog(
    plan: SourcePlan, paths: StarlingPaths, source: Path, unreadable: dict[str, str]
) -> int:
    if plan.read_items is not None:
        try:
            return write_items(plan.read_items(), paths.items, str(source.resolve()))
        except (UnicodeDecodeError, ValueError, KeyError, OSError) as exc:
            unreadable[f"{source} (catalog)"] = str(exc)
    if read_manifest(paths.items) is None:
        return 0
    return pq.read_metadata(paths.items / "items.parquet").num_rows


def _ingest_chunks(
    settings: Settings,
    paths: StarlingPaths,
    source: Path,
    chunks: list[Chunk],
    plans: list[FilePlan],
    summary: IngestSummary,
    progress: Progress,
) -> IngestSummary:
    size = sum((c.end - c.start) if c.end >= 0 else c.spec.path.stat().st_size for c in chunks)
    files = len(plans)
    progress.phase(f"validating {len(chunks)} chunk(s) of {files} file(s), {size / 1e6:.0f} MB")
    rules = EventRules(
        min_value=settings.data.rating_min,
        max_value=settings.data.rating_max,
        now_ms=int(datetime.now(UTC).timestamp() * 1000),
    )
    checked = (
        ray.data.from_items(
            [{"chunk": c.model_dump_json()} for c in chunks], override_num_blocks=len(chunks)
        )
        .map_batches(check_chunks, fn_args=(rules,), batch_size=1, batch_format="pandas")
        .materialize()
    )
    bad = checked.filter(expr=col(REASON).is_not_null()).to_pandas()
    if bad.empty:
        # A dataset filtered down to nothing comes back without its columns.
        bad = pd.DataFrame(columns=[*CHECKED_COLUMNS, "file", FILE_ERROR])
    failed = bad[bad[FILE_ERROR].astype(bool)]
    unreadable = summary.unreadable_files | dict(zip(failed["file"], failed[REASON], strict=True))
    bad_files = sorted(set(failed["file"]))
    quarantine = bad[~bad["file"].isin(bad_files)]
    kept = checked.filter(expr=col("file").not_in(bad_files)) if bad_files else checked
    read = kept.count()
    stamps = {
        str(Path(p.path).resolve()): fingerprint(Path(p.path))
        for p in plans
        if p.error is None and p.path not in bad_files
    }
    progress.phase(
        f"validated {read:,} rows: {len(quarantine):,} quarantined, "
        f"{len(bad_files)} file(s) unreadable"
    )
    if not stamps:
        return summary.model_copy(update={"unreadable_files": unreadable})
    run_id = hashlib.sha256(repr(sorted(stamps.items())).encode()).hexdigest()[:16]
    write_quarantine(_quarantine_rows(quarantine), paths.quarantine, run_id)
    good = checked.map_batches(to_events, fn_args=(source.name, bad_files), batch_format="pandas")
    progress.phase("committing the lake")
    lake_rows, added = commit_events(good, paths.events, stamps)
    accepted = read - len(quarantine)
    return summary.model_copy(
        update={
            "rows_read": read,
            "accepted": accepted,
            "duplicates": accepted - added,
            "quarantined": quarantine[REASON].value_counts().to_dict(),
            "unreadable_files": unreadable,
            "lake_rows": lake_rows,
        }
    )


def _quarantine_rows(bad: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": bad["file"].astype(str),
            "line": bad["line"].astype("Int64"),
            "reason": bad[REASON].astype(str),
            "raw": bad["raw"].astype(object),
        }
    )
