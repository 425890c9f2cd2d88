from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rank_service.training.splits import random_split, time_tail_split


def _table(times: list[int]) -> pa.Table:
    ts = [datetime.fromtimestamp(t, tz=UTC) for t in times]
    return pa.table({"ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")), "row": range(len(ts))})


def test_time_tail_is_the_latest_share_and_keeps_ties_together() -> None:
    head, tail = time_tail_split(_table([5, 1, 9, 3, 7, 9, 2, 8, 4, 6]), 0.2)
    assert pc.max(head.column("ts")).as_py() < pc.min(tail.column("ts")).as_py()
    assert sorted(t.timestamp() for t in tail.column("ts").to_pylist()) == [9, 9]
    # A tie at the cutoff goes wholly to the tail: 3 rows share the 80th-percentile time.
    head, tail = time_tail_split(_table([1, 2, 3, 4, 5, 6, 7, 8, 8, 8]), 0.2)
    assert head.num_rows == 7 and tail.num_rows == 3


def test_time_tail_split_refuses_what_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="one timestamp"):
        time_tail_split(_table([4, 4, 4]), 0.3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        time_tail_split(_table([1, 2]), 1.0)


def test_random_split_is_seeded_disjoint_and_complete() -> None:
    table = _table(list(range(100)))
    train, test = random_split(table, 0.2, seed=7)
    assert (train.num_rows, test.num_rows) == (80, 20)
    assert set(train.column("row").to_pylist()).isdisjoint(test.column("row").to_pylist())
    again = random_split(table, 0.2, seed=7)[1].column("row").to_pylist()
    assert again == test.column("row").to_pylist()
    assert random_split(table, 0.2, seed=8)[1].column("row").to_pylist() != again
    # Not simply the latest rows: a random test share spans the whole time range.
    assert min(test.column("row").to_pylist()) < 50
