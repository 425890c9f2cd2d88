"""How to read one source: which files hold events, how their fields map, and the catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInputError

# The fields an event file can provide, named independently of any source's column names.
CANONICAL = ("user", "item", "value", "ts", "type", "event_id", "tag")
REQUIRED = ("user", "item", "ts")

TsUnit = Literal["s", "ms", "us", "ns"]
FileFormat = Literal["delimited", "jsonl", "parquet"]


class FileSpec(BaseModel, frozen=True):
    """One event file and how to turn its rows into canonical fields."""

    path: Path
    format: FileFormat
    delimiter: str = ","
    # Only CSV may quote fields; the `::`, tab and pipe formats of MovieLens never do.
    quoted: bool = True
    encoding: str = "utf-8"
    header: bool = True
    columns: tuple[str, ...] = Field(
        default=(), description="field names of a file without a header line"
    )
    mapping: dict[str, str] = Field(description="canonical field -> the file's column name")
    event_type: str | None = Field(None, description="the type of every row when none is mapped")
    ts_unit: TsUnit = "s"
    ts_format: str | None = Field(None, description="strptime format or 'ISO8601' for text times")


class SourcePlan(BaseModel):
    """Everything one ingest run reads from a source."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: str
    files: list[FileSpec]
    read_items: Callable[[], pa.Table] | None = None
    notes: list[str] = Field(default_factory=list, description="what the source holds but skips")


class SourceError(InvalidInputError):
    """A source that cannot be ingested, with a reason a user can act on."""
