"""Which kind of source a path is, detected by the files it holds."""

from __future__ import annotations

from pathlib import Path

from ingest.lake.sources.event_log import EventLogOptions, log_files, plan_event_log
from ingest.lake.sources.movielens_100k import is_movielens_100k, plan_movielens_100k
from ingest.lake.sources.movielens_csv import is_movielens_csv, plan_movielens_csv
from ingest.lake.sources.movielens_dat import is_movielens_dat, plan_movielens_dat
from ingest.lake.sources.spec import SourceError, SourcePlan


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
    files = log_files(source)
    if not files:
        raise SourceError(
            f"{source}: not a MovieLens directory (ratings.csv + movies.csv, ratings.dat or "
            "u.data) and holds no .csv, .jsonl or .parquet event files"
        )
    return SourcePlan(kind="event-log", files=[plan_event_log(f, options) for f in files])
