from __future__ import annotations

import numpy as np
import pyarrow as pa

from recall_service.training.item_bag_data import BagHistories, leave_out
from recall_service.training.vocab import ItemVocab


def _histories(cap: int = 10) -> BagHistories:
    rows = pa.table(
        {
            "user_id": np.asarray([1, 1, 1, 1, 2, 2, 3]),
            "item_id": np.asarray([10, 11, 12, 13, 10, 14, 15]),
            "ts": np.asarray([1, 2, 3, 4, 1, 2, 1]),
            "label": np.asarray([1, 0, 1, 1, 1, 1, 1], dtype=np.int8),
        }
    )
    return BagHistories.from_rows(rows, ItemVocab.from_items(rows["item_id"].to_numpy()), cap)


def test_histories_are_newest_first_and_capped() -> None:
    histories = _histories(cap=3)
    assert histories.items[0].tolist() == [3, 2, 1]  # items 13, 12, 11 by vocabulary row
    assert histories.positive[0].tolist() == [True, True, False]
    assert histories.items[2].tolist() == [5, histories.pad, histories.pad]


def test_no_target_is_in_its_own_users_input() -> None:
    histories = _histories()
    rng = np.random.default_rng(0)
    for _ in range(50):
        users = np.asarray([0, 1, 2])
        bags, pair_users, targets = leave_out(histories, users, 0.5, False, rng)
        for user, target in zip(pair_users, targets, strict=True):
            assert target not in bags[user]
        kept = (bags != histories.pad).sum(1)
        # Users with two items or more keep one as input and give one as target.
        assert kept[0] >= 1 and kept[1] >= 1
        assert set(pair_users) == {0, 1}  # a single-item user has nothing to learn from


def test_positive_targets_leave_negatives_as_input_only() -> None:
    histories = _histories()
    rng = np.random.default_rng(1)
    for _ in range(50):
        _, _, targets = leave_out(histories, np.asarray([0]), 0.9, True, rng)
        assert 1 not in targets  # item 11 was rated below the positive threshold


def test_each_users_newest_positive_is_held_out_when_others_remain() -> None:
    from recall_service.training.item_bag import _hold_out_newest_positive

    rows = pa.table(
        {
            "user_id": np.asarray([1, 1, 1, 2, 3, 3]),
            "item_id": np.asarray([10, 11, 12, 10, 13, 14]),
            "ts": np.asarray([3, 1, 2, 1, 1, 2]),
            "label": np.asarray([1, 1, 0, 1, 0, 0], dtype=np.int8),
        }
    )
    kept, held = _hold_out_newest_positive(rows)
    # User 2 has nothing else to embed them with; user 3 has no positive.
    assert held.to_pydict()["item_id"] == [10] and held["user_id"].to_pylist() == [1]
    assert kept.num_rows == 5
