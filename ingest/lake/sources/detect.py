"""Which kind of source a path is, detected by the files it holds."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ingest.lake.sources.event_log import EventLogOptions, log_files, plan_event_log
from ingest.lake.sources.movielens_100k import is_movielens_100k, plan_movielens_100k
from ingest.lake.sources.movielens_csv import (
    is_movielens_csv,
    plan_movielens_csv,
    read_csv_items,
)
from ingest.lake.sources.movielens_dat import is_movielens_dat, plan_movielens_dat
from ingest.lake.sources.spec import SourceError, SourcePlan

CATALOGUE_FILES = ("movies.csv", "links.csv")


def detect_source(source: Path, options: EventLogOptions | None = None) -> SourcePlan:
    """A MovieLens release when its marker files are there, else a generic event log.

    A column mapping (`options.mapping`) always means an event log, even in a folder that
    happens to hold MovieLens files.
    """
    if not source.exists():
        raise SourceError(f"{source}: no such file or directory")
    options = options or EventLogOptions()
    if not options.mapping:
        if is_movielens_csv(source):
            return plan_movielens_csv(source)
        if is_movielens_dat(source):
            return plan_movielens_dat(source)
        if is_movielens_100k(source):
            return plan_movielens_100k(source)
    # A folder of event logs may carry its catalogue as a MovieLens movies.csv (and links.csv).
    catalogue = source.is_dir() and (source / "movies.csv").is_file()
    skipped = {source / name for name in CATALOGUE_FILES} if catalogue else set()
    files = [f for f in log_files(source) if f not in skipped]
    if not files:
        raise SourceError(
            f"{source}: not a MovieLens directory (ratings.csv + movies.csv, ratings.dat or "
            "u.data) and holds no .csv, .jsonl or .parquet event files"
        )
    return SourcePlan(
        kind="event-log",
        files=[plan_event_log(f, options) for f in files],
        read_items=partial(read_csv_items, source) if catalogue else None,
    )
