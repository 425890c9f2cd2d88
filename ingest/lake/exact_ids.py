"""Ids parsed exactly as int64: never through float64, which rounds ids above 2^53 and turns
ones beyond int64 into INT64_MIN.

Plain digit strings of up to 18 digits (always inside int64) are cast by Arrow in bulk; the few
other texts (more digits, a fraction, an exponent) go through `Decimal`, which is exact.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT64 = np.iinfo(np.int64)
# At most 18 digits: below 10^18 < 2^63, so Arrow's cast cannot overflow.
_SHORT = r"^[+-]?\d{1,18}$"
# "12.0" (pandas writes integer columns with a blank as floats): the fraction is dropped.
_ZERO_FRACTION = r"^([+-]?\d{1,18})\.0*$"


class Ids(NamedTuple):
    """One id column: int64 values (0 where not valid) and why the others are not."""

    blank: np.ndarray
    value: np.ndarray
    not_integer: np.ndarray
    beyond_int64: np.ndarray


def _slow(text: str) -> tuple[int, bool, bool]:
    """(value, not an integer, beyond int64) of one text that is not a short digit string."""
    if "_" in text:  # Decimal accepts "1_000"; no reader of ids does
        return 0, True, False
    try:
        number = Decimal(text)
    except InvalidOperation:
        return 0, True, False
    if not number.is_finite() or number != number.to_integral_value():
        return 0, True, False
    # Checked on the exponent first: int() of "1e999999999" would build a billion digits.
    if number.adjusted() > 19 or not _INT64.min <= int(number) <= _INT64.max:
        return 0, False, True
    return int(number), False, False


def exact_ids(column: pa.Array | None, size: int) -> Ids:
    """Parse an id column given as text or as integers (null or "" when blank; None: absent)."""
    if column is None:
        nothing = np.zeros(size, dtype=bool)
        return Ids(~nothing, np.zeros(size, np.int64), nothing, nothing)
    if pa.types.is_integer(column.type) and column.type != pa.uint64():
        blank = pc.is_null(column).to_numpy(zero_copy_only=False)
        values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        nothing = np.zeros(size, dtype=bool)
        return Ids(blank, values, nothing, nothing)
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    blank = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
    text = pc.replace_substring_regex(text, _ZERO_FRACTION, r"\1")
    short = pc.fill_null(pc.match_substring_regex(text, _SHORT), False)
    parsed = pc.fill_null(pc.if_else(short, text, "0").cast(pa.int64()), 0)
    values = parsed.to_numpy(zero_copy_only=False).copy()
    not_integer = np.zeros(size, dtype=bool)
    beyond = np.zeros(size, dtype=bool)
    odd = np.flatnonzero(~short.to_numpy(zero_copy_only=False) & ~blank)
    for row, one in zip(odd, text.take(pa.array(odd, pa.int64())).to_pylist(), strict=True):
        values[row], not_integer[row], beyond[row] = _slow(one)
    return Ids(blank, values, not_integer, beyond)
