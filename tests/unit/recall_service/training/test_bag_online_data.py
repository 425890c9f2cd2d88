"""What the item bag's online update learns and is judged on: rows newer than it learnt, the
newest share held out, window users' histories from before the window only."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recall_service.training.bag_online_data import (
    NothingNewToLearnError,
    bag_update_split,
    window_users,
)


def _rows(users: list[int], items: list[int], ms: list[int], labels: list[int]) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array(items, pa.int64()),
            "ts": pa.array(ms, pa.timestamp("ms")),
            "label": pa.array(labels, pa.int8()),
        }
    )


def test_the_newest_share_of_the_new_rows_is_held_out() -> None:
    # Rows at t = 0..9; the bag learnt up to t = 3; 6 new rows, the newest half held out.
    rated = _rows([1, 1, 2, 2, 3, 3, 1, 2, 3, 1], list(range(10, 20)), list(range(10)), [1] * 10)
    split = bag_update_split(rated, 3, 0.5, 2)
    assert split.new_rows == 3 and split.trained_until_ms() == 6
    assert split.learnt_users.tolist() == [1, 3] and split.learnt_items.tolist() == [14, 15, 16]
    assert split.window["item_id"].to_pylist() == [17, 18, 19]
    assert split.history.num_rows == 7


def test_too_small_a_window_or_nothing_new_is_refused() -> None:
    rated = _rows([1, 1, 1], [1, 2, 3], [0, 1, 2], [1, 1, 1])
    with pytest.raises(NothingNewToLearnError, match="min_window_rows=5"):
        bag_update_split(rated, 0, 0.5, 5)
    with pytest.raises(NothingNewToLearnError, match="0 rated rows are newer"):
        bag_update_split(rated, 2, 0.5, 1)


def test_window_users_are_judged_on_new_positives_from_their_history() -> None:
    history = _rows([1, 1, 2, 3], [10, 11, 10, 12], [0, 5, 1, 2], [1, 0, 1, 1])
    # User 1's positive 20 is new; user 2's only positive is already in the history; user 3's
    # row is negative; user 4 has no history.
    window = _rows([1, 1, 2, 3, 4], [20, 21, 10, 13, 30], [7, 8, 9, 9, 9], [1, 0, 1, 0, 1])
    users = window_users(history, window)
    assert [h.tolist() for h in users.histories] == [[11, 10]]
    assert [t.tolist() for t in users.targets] == [[20]]
    assert window_users(history.slice(0, 0), window).histories == []
    np.testing.assert_array_equal(users.histories[0], np.array([11, 10]))
