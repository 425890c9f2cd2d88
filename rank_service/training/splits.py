"""Hold-out splits of sample tables: a time-ordered tail, and SparrowRecSys's random split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TIME_COLUMN = "ts"


def tail_cutoff(table: pa.Table, fraction: float) -> pa.Scalar:
    """The timestamp from which the last `fraction` of rows (by time) begins.

    Rows at exactly the cutoff all fall in the tail, so a split by cutoff is the same whether it
    is applied to a table here or to a Ray Data stream in `before`.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"a hold-out fraction must lie strictly between 0 and 1, not {fraction}")
    if table.num_rows < 2:
        raise ValueError(f"{table.num_rows} rows cannot be split")
    times = table.column(TIME_COLUMN)
    position = min(int(table.num_rows * (1.0 - fraction)), table.num_rows - 1)
    order = pc.sort_indices(times)
    return times.take(order.slice(position, 1))[0]


def before(table: pa.Table, cutoff: pa.Scalar) -> pa.Table:
    """Rows strictly before `cutoff`."""
    return table.filter(pc.less(table.column(TIME_COLUMN), cutoff))


def from_cutoff(table: pa.Table, cutoff: pa.Scalar) -> pa.Table:
    """Rows at or after `cutoff`."""
    return table.filter(pc.greater_equal(table.column(TIME_COLUMN), cutoff))


def time_tail_split(table: pa.Table, fraction: float) -> tuple[pa.Table, pa.Table]:
    """(earlier rows, the last `fraction` of time): a hold-out in the future of training."""
    cutoff = tail_cutoff(table, fraction)
    head, tail = before(table, cutoff), from_cutoff(table, cutoff)
    if head.num_rows == 0:
        raise ValueError("every row shares one timestamp; no time-ordered split exists")
    return head, tail


def random_split(table: pa.Table, fraction: float, seed: int) -> tuple[pa.Table, pa.Table]:
    """(1 - fraction, fraction) of the rows drawn at random with `seed`, as SparrowRecSys did."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"a hold-out fraction must lie strictly between 0 and 1, not {fraction}")
    order = np.random.default_rng(seed).permutation(table.num_rows)
    held = max(1, round(table.num_rows * fraction))
    return table.take(np.sort(order[held:])), table.take(np.sort(order[:held]))


def newest_ms(table: pa.Table) -> int:
    """The newest `ts` of the rows, in ms since the epoch (0 for no rows)."""
    newest = pc.max(table.column(TIME_COLUMN).cast(pa.int64())).as_py()
    return int(newest) if newest is not None else 0
