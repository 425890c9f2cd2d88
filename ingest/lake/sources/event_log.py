"""Generic event logs: CSV, JSON Lines or Parquet files (optionally gzipped), or a folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ingest.lake.sources.spec import CANONICAL, REQUIRED, FileFormat, FileSpec, SourceError, TsUnit

_FORMATS: dict[str, FileFormat] = {
    ".csv": "delimited",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}


class EventLogOptions(BaseModel, frozen=True):
    """How the columns of an event log map onto events (`--map`, `--ts-unit`, `--ts-format`)."""

    mapping: dict[str, str] = Field(default_factory=dict, description="canonical -> column")
    ts_unit: TsUnit = "s"
    ts_format: str | None = None


def parse_mapping(text: str) -> dict[str, str]:
    """'user=uid,item=sku,ts=time' -> {'user': 'uid', ...}; unknown fields are an error."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        field, sep, column = pair.partition("=")
        if not sep or not column or field not in CANONICAL:
            raise SourceError(
                f"bad --map entry {pair!r}: expected FIELD=COLUMN with FIELD one of "
                + ", ".join(CANONICAL)
            )
        mapping[field] = column
    return mapping


def _format_of(path: Path) -> FileFormat | None:
    suffixes = [s for s in path.suffixes[-2:] if s != ".gz"]
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def log_files(source: Path) -> list[Path]:
    """The event files of a log: the file itself, or every known file under a folder."""
    if source.is_file():
        return [source]
    return sorted(p for p in source.rglob("*") if p.is_file() and _format_of(p) is not None)


def plan_event_log(path: Path, options: EventLogOptions) -> FileSpec:
    """One log file as a FileSpec; columns default to their canonical names.

    Without a mapped type column, rows with a mapped value are ratings and others clicks.
    """
    fmt = _format_of(path)
    if fmt is None:
        raise SourceError(f"{path}: unknown log format (use .csv, .jsonl or .parquet)")
    mapping = {f: f for f in REQUIRED} | options.mapping
    event_type = None if "type" in mapping else ("rating" if "value" in mapping else "click")
    return FileSpec(
        path=path,
        format=fmt,
        mapping=mapping,
        event_type=event_type,
        ts_unit=options.ts_unit,
        ts_format=options.ts_format,
    )
