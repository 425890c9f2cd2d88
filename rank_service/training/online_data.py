"""Which samples the online update fine-tunes on, stops early on, and is judged on.

Everything after the serving model's newest trained sample is new to it. The newest
`window_fraction` of the new samples (by time) is the held-out window that the gate judges both
models on; the rest is what the candidate learns, its newest `validation_fraction` held out for
early stopping, plus a random replay of older samples so that fine-tuning does not forget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import MissingDataError
from rank_service.training.splits import TIME_COLUMN, before, from_cutoff, tail_cutoff


class NothingNewError(MissingDataError):
    """Too few samples the serving model has not seen to fine-tune and judge a candidate."""


@dataclass(frozen=True)
class OnlineSplit:
    """The tables of one online update, all with the sample columns that were read."""

    train: pa.Table
    validation: pa.Table
    window: pa.Table
    new_rows: int
    replayed_rows: int


def _new_since(samples: pa.Table, trained_until_ms: int) -> tuple[pa.Table, pa.Table]:
    """(rows at or before the time, rows after it)."""
    times = samples.column(TIME_COLUMN).cast(pa.int64())
    after = pc.greater(times, trained_until_ms)
    return samples.filter(pc.invert(after)), samples.filter(after)


def _replay(seen: pa.Table, rows: int, seed: int) -> pa.Table:
    """`rows` seen rows drawn without replacement (all of them when there are fewer)."""
    if rows >= seen.num_rows:
        return seen
    picked = np.random.default_rng(seed).choice(seen.num_rows, size=rows, replace=False)
    return seen.take(np.sort(picked))


def online_split(
    samples: pa.Table,
    trained_until_ms: int,
    window_fraction: float,
    validation_fraction: float,
    replay_ratio: float,
    min_window_rows: int,
    seed: int,
) -> OnlineSplit:
    """Split `samples` for an update of a model that learnt every sample up to
    `trained_until_ms`; NothingNewError when too few new rows remain for any part."""
    seen, new = _new_since(samples, trained_until_ms)
    if new.num_rows < 2:
        raise NothingNewError(
            f"{new.num_rows} samples are newer than what the serving model learnt; run "
            "`starling features` once new events are in the lake"
        )
    cutoff = tail_cutoff(new, window_fraction)
    window, fresh = from_cutoff(new, cutoff), before(new, cutoff)
    if window.num_rows < min_window_rows:
        raise NothingNewError(
            f"the held-out window has {window.num_rows} samples, fewer than "
            f"online.min_window_rows={min_window_rows}"
        )
    if fresh.num_rows < 2:
        raise NothingNewError(f"{fresh.num_rows} new samples before the held-out window")
    stop_at = tail_cutoff(fresh, validation_fraction)
    fresh_train, validation = before(fresh, stop_at), from_cutoff(fresh, stop_at)
    if fresh_train.num_rows == 0:
        raise NothingNewError("the new samples before the window all share one moment")
    replayed = _replay(seen, round(replay_ratio * fresh_train.num_rows), seed)
    return OnlineSplit(
        train=pa.concat_tables([replayed, fresh_train]),
        validation=validation,
        window=window,
        new_rows=fresh_train.num_rows,
        replayed_rows=replayed.num_rows,
    )
