"""Parsing and validating one chunk of an event file, inside a Ray task.

Every line ends up somewhere: a row to validate, a quarantine row for a line that does not
split into the expected fields or is too long to hold, or (when the bytes cannot be decoded at
all) one marker row that makes the whole file count as unreadable. A chunk is checked in
bounded pieces (`ingest.lake.line_pieces`), so a gzip bomb never sits in memory whole.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.lake.chunks import Chunk, split_fields
from ingest.lake.line_pieces import MAX_LINE_BYTES, LongLine, open_prefix, read_pieces
from ingest.lake.parquet_rows import parquet_rows
from ingest.lake.validate import CHECKED, REASON, EventRules, validate_events

FILE_ERROR = "file_error"
LINE_TOO_LONG = f"line too long (over {MAX_LINE_BYTES} bytes)"
# split_fields gives no fields for a line whose quotes do not pair up.
_UNPAIRED = "malformed line: unpaired quote"
_UTF8_BOM = b"\xef\xbb\xbf"
_NO_TEXT = pa.scalar(None, pa.string())
# Fields the fast path parses as numbers directly: ids and times as integers (a third less CPU
# than as floats), values as floats. A value that does not parse (such as an id "1.0" or a time
# with a fraction) sends the chunk down the general path, which names bad lines or accepts them.
INTEGER_FIELDS = ("user", "item", "ts")
FLOAT_FIELDS = ("value",)


def _lines(chunk: Chunk, text: str) -> tuple[pa.Array, np.ndarray]:
    """The chunk's non-blank lines (header dropped) and their 1-based numbers in the chunk."""
    lines = pc.utf8_rtrim(pc.list_flatten(pc.split_pattern(pa.array([text]), "\n")), "\r")
    keep = pc.not_equal(pc.utf8_trim_whitespace(lines), "").to_numpy(zero_copy_only=False)
    if chunk.has_header and len(keep):
        keep[0] = False
    numbers = np.arange(1, len(lines) + 1)
    return lines.filter(pa.array(keep)), numbers[keep]


def _fast_delimited(chunk: Chunk, data: bytes) -> pa.Table | None:
    """Arrow's CSV reader on a clean chunk: no quotes, no blank lines, one-byte delimiter.

    Its rows are then exactly the chunk's lines, so line numbers follow from row positions.
    None when the chunk is not clean or a line has the wrong number of fields: the general
    path below finds what is wrong with which line.
    """
    spec = chunk.spec
    blank_line = b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n"))
    quoted = spec.quoted and b'"' in data
    if len(spec.delimiter) != 1 or len(chunk.fields) < 2 or blank_line or quoted:
        return None
    if len(set(chunk.fields)) != len(chunk.fields):
        return None
    wanted = sorted(set(spec.mapping.values()))
    integers = [spec.mapping[f] for f in INTEGER_FIELDS if f in spec.mapping]
    if spec.ts_format is not None and "ts" in spec.mapping:
        integers.remove(spec.mapping["ts"])
    floats = [spec.mapping[f] for f in FLOAT_FIELDS if f in spec.mapping]
    types = (
        dict.fromkeys(wanted, pa.string())
        | dict.fromkeys(integers, pa.int64())
        | dict.fromkeys(floats, pa.float64())
    )
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            # One thread: a task per CPU already runs, and the reader's threads cost 30 % more
            # CPU for the same chunk.
            read_options=pacsv.ReadOptions(
                column_names=list(chunk.fields),
                skip_rows=int(chunk.has_header),
                use_threads=False,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=spec.delimiter, quote_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types=types,
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    first = 1 + int(chunk.has_header)
    columns = {field: table[column] for field, column in spec.mapping.items()}
    return pa.table(
        {
            **columns,
            REASON: pa.nulls(table.num_rows, pa.string()),
            "line": pa.array(np.arange(first, first + table.num_rows)),
        }
    )


def _with_raw_lines(checked: pa.Table, chunk: Chunk, text: str) -> pa.Table:
    """Give the bad rows of a fast-parsed chunk their line text (row i is line i there)."""
    bad = pc.is_valid(checked[REASON])
    lines, _ = _lines(chunk, text)
    raw = pc.if_else(bad, lines, _NO_TEXT)
    return checked.set_column(checked.schema.get_field_index("raw"), "raw", raw)


def _field_column(size: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A text column of `size` rows, "" except where a (mask, values) part fills it in."""
    column = pa.repeat(pa.scalar("", pa.string()), size)
    for mask, values in parts:
        if len(values):
            column = pc.replace_with_mask(column, pa.array(mask), values)
    return column


def _delimited(chunk: Chunk, text: str) -> pa.Table:
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
    split = {row: split_fields(lines[int(row)].as_py(), spec) for row in np.flatnonzero(quoted)}
    for row, fields in split.items():
        counts[row] = len(fields)
    good_quoted = {row: fields for row, fields in split.items() if len(fields) == width}
    quoted_ok = np.zeros(len(lines), dtype=bool)
    quoted_ok[list(good_quoted)] = True
    columns = {
        field: _field_column(
            len(lines),
            [
                (plain, flat.take(pa.array(np.arange(index, len(flat), width, dtype=np.int64)))),
                (quoted_ok, pa.array([f[index] for f in good_quoted.values()], pa.string())),
            ],
        )
        for field, index in wanted.items()
    }
    bad = counts != width
    reason = pa.nulls(len(lines), pa.string())
    if bad.any():
        # One text per distinct count, taken by index: a string object per bad line cost
        # about 100 bytes each, gigabytes for a piece of millions of one-character lines.
        distinct, which = np.unique(counts[bad], return_inverse=True)
        texts = [
            f"malformed line: {n} fields, expected {width}" if n else _UNPAIRED for n in distinct
        ]
        reasons = pa.array(texts, pa.string()).take(pa.array(which))
        reason = pc.replace_with_mask(reason, pa.array(bad), reasons)
    return pa.table(
        {**columns, REASON: reason, "line": pa.array(numbers, pa.int64()), "raw": lines}
    )


def _jsonl(chunk: Chunk, text: str) -> pa.Table:
    spec = chunk.spec
    records: list[dict[str, Any]] = []
    for offset, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        record: dict[str, Any] = {"line": 1 + offset, "raw": line, REASON: None}
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
    names = [*spec.mapping, REASON, "raw"]
    columns = {n: pa.array([r.get(n) for r in records], pa.string()) for n in names}
    return pa.table({**columns, "line": pa.array([r["line"] for r in records], pa.int64())})


class CheckedChunk(NamedTuple):
    """A piece of a chunk: its CHECKED rows plus `file_error`, lines numbered from 1 within the
    chunk, and the line breaks it holds (see `ingest.lake.chunks.line_offsets`)."""

    rows: pa.Table
    line_breaks: int


def _checked_text(chunk: Chunk, data: bytes, rules: EventRules) -> pa.Table:
    """CHECKED rows of the whole lines `data`, numbered from 1."""
    spec = chunk.spec
    if spec.format == "delimited":
        # UTF-8 goes to Arrow's reader undecoded (it checks the text columns it reads): decoding
        # every chunk in Python cost 5 % of the stage's CPU. The general path decodes.
        utf8 = data
        if spec.encoding.lower() not in ("utf-8", "utf8"):
            utf8 = data.decode(spec.encoding).encode()
        fast = _fast_delimited(chunk, utf8)
        if fast is not None:
            checked = validate_events(fast, rules)
            if checked[REASON].null_count != checked.num_rows:
                checked = _with_raw_lines(checked, chunk, utf8.decode())
            return checked
    text = data.decode(spec.encoding)
    if spec.format == "jsonl":
        return validate_events(_jsonl(chunk, text), rules)
    return validate_events(_delimited(chunk, text), rules)


def _too_long(lines: list[LongLine], encoding: str) -> pa.Table:
    raw = [f"{x.head.decode(encoding, errors='replace')}… ({x.length} bytes)" for x in lines]
    rows = {c: [None] * len(lines) for c in CHECKED.names} | {
        REASON: [LINE_TOO_LONG] * len(lines),
        "line": [x.line for x in lines],
        "raw": raw,
    }
    return pa.table(rows, schema=CHECKED)


def _checked_pieces(chunk: Chunk, rules: EventRules) -> Iterator[CheckedChunk]:
    spec = chunk.spec
    if spec.format == "parquet":
        yield CheckedChunk(validate_events(parquet_rows(chunk), rules), 0)
        return
    before = 0  # line breaks of the chunk's earlier pieces
    with open_prefix(spec.path, chunk.start, chunk.end) as stream:
        for number, piece in enumerate(read_pieces(stream)):
            data = piece.data
            if number == 0 and chunk.start == 0 and spec.encoding.lower() in ("utf-8", "utf8"):
                data = data.removeprefix(_UTF8_BOM)  # json.loads refuses it on line 1
            part = chunk if number == 0 else chunk.model_copy(update={"has_header": False})
            rows = _checked_text(part, data, rules)
            if piece.long_lines:
                rows = pa.concat_tables([rows, _too_long(piece.long_lines, spec.encoding)])
            lines = pc.add(rows["line"], before)
            rows = rows.set_column(rows.schema.get_field_index("line"), "line", lines)
            breaks = data.count(b"\n")
            yield CheckedChunk(rows, breaks)
            before += breaks


def _unreadable(reason: str) -> pa.Table:
    row = {c: [None] for c in CHECKED.names} | {REASON: [f"unreadable file: {reason}"]}
    return pa.table(row, schema=CHECKED)


def check_pieces(chunk: Chunk, rules: EventRules) -> Iterator[CheckedChunk]:
    """CHECKED rows of every line in the chunk, plus `file_error`, piece by piece.

    When the chunk cannot be read, the last piece is a single row with `file_error` true that
    gives the reason; the pieces before it are then void.
    """
    spec = chunk.spec
    try:
        for piece in _checked_pieces(chunk, _file_rules(rules, chunk)):
            flag = pa.repeat(pa.scalar(False), piece.rows.num_rows)
            yield CheckedChunk(piece.rows.append_column(FILE_ERROR, flag), piece.line_breaks)
        return
    except UnicodeDecodeError as exc:
        error = _unreadable(f"not {spec.encoding} text ({exc.reason})")
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        error = _unreadable(str(exc) or type(exc).__name__)
    yield CheckedChunk(error.append_column(FILE_ERROR, pa.repeat(pa.scalar(True), 1)), 0)


def _file_rules(rules: EventRules, chunk: Chunk) -> EventRules:
    spec = chunk.spec
    return rules.model_copy(
        update={"ts_unit": spec.ts_unit, "ts_format": spec.ts_format, "event_type": spec.event_type}
    )
