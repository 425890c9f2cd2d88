"""Reading a chunk of a text file in bounded pieces of whole lines.

A task never holds more than about PIECE_BYTES + MAX_LINE_BYTES of a chunk's text: a gzip file
that expands to gigabytes, or a file with no line break at all, is read piece by piece. A line
longer than MAX_LINE_BYTES is not kept: it stays in its piece as an empty line (so that line
numbers still count it) and is reported with its length and first bytes.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

# Text a task decodes and validates at once.
PIECE_BYTES = 16 * 1024 * 1024
# Lines a task checks at once: parsing costs about 150 bytes a line whatever its length, so a
# piece of 16 MiB of one-character lines took 2.4 GiB.
PIECE_LINES = 1024 * 1024
# Longer lines are quarantined unread: no event needs a megabyte.
MAX_LINE_BYTES = 1024 * 1024
# How much of a too-long line its quarantine row shows.
HEAD_BYTES = 200


class LongLine(NamedTuple):
    """A line that was too long: its number within its piece, length, and first bytes."""

    line: int
    length: int
    head: bytes


class Piece(NamedTuple):
    """Whole lines of a chunk (too-long ones emptied) and the too-long lines."""

    data: bytes
    long_lines: list[LongLine]


class _Prefix(io.RawIOBase):
    """The next `size` bytes of a binary file: what was planned, not what was appended since."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._left)
        if wanted <= 0:
            return 0
        got = self._handle.readinto(memoryview(buffer)[:wanted]) or 0
        self._left -= got
        return got


def open_prefix(path: Path, start: int, end: int) -> BinaryIO:
    """Bytes [start, end) of `path`; a gzip file's planned prefix, decompressed as it is read."""
    handle = path.open("rb")
    handle.seek(start)
    prefix = io.BufferedReader(_Prefix(handle, end - start))
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=prefix, mode="rb")  # type: ignore[return-value]
    return prefix  # type: ignore[return-value]


def _whole_lines(data: bytes, max_line: int, max_lines: int) -> Iterator[Piece]:
    """`data` (ending at a line break) in pieces of at most `max_lines` lines, each line over
    `max_line` bytes emptied."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
    for first in range(0, len(ends), max_lines):
        last = min(first + max_lines, len(ends)) - 1
        start = int(ends[first - 1]) + 1 if first else 0
        yield _empty_long_lines(
            data[start : int(ends[last]) + 1], ends[first : last + 1] - start, max_line
        )


def _empty_long_lines(data: bytes, ends: np.ndarray, max_line: int) -> Piece:
    """`data` with each line over `max_line` bytes emptied; `ends` are its line breaks."""
    starts = np.concatenate([[0], ends[:-1] + 1])
    long = np.flatnonzero(ends - starts > max_line)
    if not len(long):
        return Piece(data, [])
    parts, found, kept_from = [], [], 0
    for index in long:
        start, end = int(starts[index]), int(ends[index])
        parts.append(data[kept_from:start])
        found.append(LongLine(int(index) + 1, end - start, data[start : start + HEAD_BYTES]))
        kept_from = end
    parts.append(data[kept_from:])
    return Piece(b"".join(parts), found)


def read_pieces(
    stream: BinaryIO,
    piece_bytes: int = PIECE_BYTES,
    max_line: int = MAX_LINE_BYTES,
    max_lines: int = PIECE_LINES,
) -> Iterator[Piece]:
    """Pieces of whole lines, in order; the last one may lack its final line break."""
    carry = b""  # the start of a line not ended yet, at most max_line bytes
    long: LongLine | None = None  # the line being skipped, once it is known to be too long
    while block := stream.read(piece_bytes):
        if long is not None:
            end = block.find(b"\n")
            if end < 0:
                long = long._replace(length=long.length + len(block))
                continue
            yield Piece(b"\n", [long._replace(length=long.length + end)])
            long, block = None, block[end + 1 :]
        data = carry + block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if len(carry) > max_line:
            long, carry = LongLine(1, len(carry), carry[:HEAD_BYTES]), b""
        if cut:
            yield from _whole_lines(data[:cut], max_line, max_lines)
    if long is not None:
        yield Piece(b"", [long])
    elif carry:
        yield Piece(carry, [])
