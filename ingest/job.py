"""`starling ingest`: a MovieLens directory into the validated lake, with a summary."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel
from ray.data.expressions import col

from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import fingerprint
from ingest.lake import (
    commit_events,
    count_rows,
    ingested_sources,
    write_items,
    write_quarantine,
)
from ingest.movielens import check_movielens_dir, read_items, read_ratings
from ingest.validate import REASON, RatingRules, to_events, validate_ratings

log = logging.getLogger(__name__)


class IngestSummary(BaseModel):
    """What one ingest run did."""

    source: str
    rows_read: int
    accepted: int
    duplicates: int
    quarantined: dict[str, int]
    items: int
    lake_rows: int
    skipped_files: list[str]
    seconds: float


def ingest_movielens(settings: Settings, paths: StarlingPaths, source: Path) -> IngestSummary:
    """Validate and commit a MovieLens CSV directory; files ingested before are skipped."""
    started = time.perf_counter()
    check_movielens_dir(source)
    ratings = (source / "ratings.csv").resolve()
    known = ingested_sources(paths.events)
    items = write_items(read_items(source), paths.items, str(source.resolve()))
    stamp = fingerprint(ratings)
    if known.get(str(ratings)) == stamp:
        log.info("%s was ingested before; nothing to add", ratings)
        return IngestSummary(
            source=str(source),
            rows_read=0,
            accepted=0,
            duplicates=0,
            quarantined={},
            items=items,
            lake_rows=count_rows(paths.events),
            skipped_files=[str(ratings)],
            seconds=time.perf_counter() - started,
        )
    rules = RatingRules(
        min_value=settings.data.rating_min,
        max_value=settings.data.rating_max,
        now_ms=int(datetime.now(UTC).timestamp() * 1000),
    )
    checked = read_ratings(ratings).map_batches(
        validate_ratings, fn_args=(rules,), batch_format="pandas"
    )
    checked = checked.materialize()
    read = checked.count()
    bad = checked.filter(expr=col(REASON).is_not_null()).to_pandas()
    # Filtering inside the UDF keeps the events schema on blocks with no good row.
    good = checked.map_batches(to_events, fn_args=("rating", source.name), batch_format="pandas")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    if len(bad):
        write_quarantine(_quarantine_rows(bad, str(ratings)), paths.quarantine, run_id)
    accepted = read - len(bad)
    log.info("validated %d rows: %d accepted, %d quarantined", read, accepted, len(bad))
    lake_rows, added = commit_events(good, paths.events, {str(ratings): stamp})
    return IngestSummary(
        source=str(source),
        rows_read=read,
        accepted=accepted,
        duplicates=accepted - added,
        quarantined=bad[REASON].value_counts().to_dict() if len(bad) else {},
        items=items,
        lake_rows=lake_rows,
        skipped_files=[],
        seconds=time.perf_counter() - started,
    )


def _quarantine_rows(bad: pd.DataFrame, source: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": source,
            "line": pd.Series([None] * len(bad), dtype="Int64"),
            "reason": bad[REASON].astype(str),
            "raw": bad["raw"].astype(str),
        }
    )
