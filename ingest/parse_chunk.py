"""Parsing and validating one chunk of an event file, inside a Ray task.

Every line ends up somewhere: a row to validate, a quarantine row for a line that does not
split into the expected fields, or (when the bytes cannot be decoded at all) one marker row
that makes the whole file count as unreadable.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.chunks import Chunk, chunk_text, split_fields
from ingest.validate import CHECKED_COLUMNS, REASON, EventRules, validate_events

FILE_ERROR = "file_error"


def _lines(chunk: Chunk, text: str) -> tuple[pa.Array, np.ndarray]:
    """The chunk's non-blank lines (header dropped) and their 1-based numbers in the file."""
    lines = pc.utf8_rtrim(pc.list_flatten(pc.split_pattern(pa.array([text]), "\n")), "\r")
    keep = pc.not_equal(pc.utf8_trim_whitespace(lines), "").to_numpy(zero_copy_only=False)
    if chunk.has_header and len(keep):
        keep[0] = False
    numbers = np.arange(chunk.first_line, chunk.first_line + len(lines))
    return lines.filter(pa.array(keep)), numbers[keep]


def _delimited(chunk: Chunk, text: str) -> pd.DataFrame:
    """Fields split by Arrow in bulk; only lines with a quote go through the csv module."""
    spec = chunk.spec
    width = len(chunk.fields)
    wanted = {field: chunk.fields.index(column) for field, column in spec.mapping.items()}
    lines, numbers = _lines(chunk, text)
    parts = pc.split_pattern(lines, spec.delimiter)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False).copy()
    quoted = np.zeros(len(lines), dtype=bool)
    if spec.quoted and len(lines):
        quoted = pc.match_substring(lines, '"').to_numpy(zero_copy_only=False)
    plain = (counts == width) & ~quoted
    flat = pc.list_flatten(parts.filter(pa.array(plain)))
    rows = np.flatnonzero(plain)
    columns = {field: np.full(len(lines), "", dtype=object) for field in wanted}
    for field, index in wanted.items():
        picked = flat.take(pa.array(np.arange(index, len(flat), width, dtype=np.int64)))
        columns[field][rows] = picked.to_numpy(zero_copy_only=False)
    reasons = np.full(len(lines), None, dtype=object)
    raw = lines.to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(quoted):
        fields = split_fields(raw[row], spec)
        counts[row] = len(fields)
        if len(fields) == width:
            for field, index in wanted.items():
                columns[field][row] = fields[index]
    bad = counts != width
    reasons[bad] = [f"malformed line: {n} fields, expected {width}" for n in counts[bad]]
    frame = pd.DataFrame(columns)
    frame[REASON] = reasons
    frame["line"] = numbers
    frame["raw"] = raw
    return frame


def _jsonl(chunk: Chunk, text: str) -> pd.DataFrame:
    spec = chunk.spec
    records: list[dict[str, Any]] = []
    for offset, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        record: dict[str, Any] = {"line": chunk.first_line + offset, "raw": line, REASON: None}
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            for field, column in spec.mapping.items():
                value = parsed.get(column)
                record[field] = None if value is None else str(value)
        else:
            record[REASON] = "malformed line: not a JSON object"
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[*spec.mapping, "line", "raw", REASON])
    return frame.astype({f: object for f in spec.mapping})


def _parquet(chunk: Chunk) -> pd.DataFrame:
    spec = chunk.spec
    table = pq.read_table(spec.path, columns=sorted(set(spec.mapping.values())))
    columns: dict[str, pa.Array] = {}
    for field, column in spec.mapping.items():
        values = table[column]
        if pa.types.is_timestamp(values.type):
            # Stored times become numbers in the declared unit, like a numeric time column.
            values = values.cast(pa.timestamp(spec.ts_unit)).cast(pa.int64())
        columns[field] = pc.cast(values, pa.string())
    frame = pa.table(columns).to_pandas().astype(object)
    frame[REASON] = None
    frame["line"] = range(1, len(frame) + 1)
    frame["raw"] = frame[list(spec.mapping)].astype(str).agg(",".join, axis=1) if len(frame) else []
    return frame


def _parse(chunk: Chunk) -> pd.DataFrame:
    if chunk.spec.format == "parquet":
        return _parquet(chunk)
    text = chunk_text(chunk)
    return _jsonl(chunk, text) if chunk.spec.format == "jsonl" else _delimited(chunk, text)


def _unreadable(chunk: Chunk, reason: str) -> pd.DataFrame:
    row = {c: [None] for c in CHECKED_COLUMNS} | {REASON: [f"unreadable file: {reason}"]}
    return pd.DataFrame(row).astype({"line": "Int64"})


def check_chunk(chunk: Chunk, rules: EventRules) -> pd.DataFrame:
    """CHECKED_COLUMNS of every row in the chunk, plus `file` and `file_error`."""
    spec = chunk.spec
    try:
        raw = _parse(chunk)
        error = False
    except UnicodeDecodeError as exc:
        raw, error = _unreadable(chunk, f"not {spec.encoding} text ({exc.reason})"), True
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raw, error = _unreadable(chunk, str(exc) or type(exc).__name__), True
    checked = raw if error else validate_events(raw, _file_rules(rules, chunk))
    checked["file"] = str(spec.path)
    checked[FILE_ERROR] = error
    return checked


def _file_rules(rules: EventRules, chunk: Chunk) -> EventRules:
    spec = chunk.spec
    return rules.model_copy(
        update={"ts_unit": spec.ts_unit, "ts_format": spec.ts_format, "event_type": spec.event_type}
    )


def check_chunks(batch: pd.DataFrame, rules: EventRules) -> pd.DataFrame:
    """Ray Data UDF: a batch of serialised chunks -> their checked rows."""
    frames = [check_chunk(Chunk.model_validate_json(text), rules) for text in batch["chunk"]]
    return pd.concat(frames, ignore_index=True)
