from __future__ import annotations

import numpy as np
import pytest

from recall_service.training import transitions
from recall_service.training.transitions import fit_transitions
from tests.support.item_weights import dense


def _fit(rows: list[tuple[int, int, int]], window: int, decay: float = 1.0, keep: int = 10):
    rng = np.random.default_rng(0)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    users, items, times = (np.array(column) for column in zip(*shuffled, strict=True))
    return dense(fit_transitions(users, items, times, 5, window, decay, keep))


def test_an_item_speaks_for_what_users_went_on_to_in_time_order_not_for_what_came_before() -> None:
    # User 1 watched 0, 1, 2 (rows given in any order); user 2 watched 0, 1.
    weights = _fit([(1, 2, 30), (1, 0, 10), (1, 1, 20), (2, 0, 5), (2, 1, 6)], window=1)

    # 0 -> 1 twice: out(0) = 2, in(1) = 2.
    assert weights[0, 1] == pytest.approx(2 / np.sqrt(3 * 3))
    assert weights[1, 2] == pytest.approx(1 / np.sqrt((1 + 1) * (1 + 1)))
    assert weights[1, 0] == 0 and weights[2, 1] == 0
    # One place on only: 2 never directly follows 0.
    assert weights[0, 2] == 0
    assert np.all(np.diag(weights) == 0)


def test_followers_further_on_count_less_and_a_users_history_stays_their_own() -> None:
    rows = [(1, 0, 1), (1, 1, 2), (1, 2, 3), (2, 3, 4), (2, 4, 5)]
    weights = _fit(rows, window=2, decay=0.5)

    assert weights[0, 2] > 0 and weights[0, 2] < weights[0, 1]
    # User 1's last item and user 2's first are neighbours in time, not in one history.
    assert weights[2, 3] == 0


def test_each_item_keeps_its_strongest_followers_only() -> None:
    # After 0 come 1 (three users), 2 (two) and 3 (one).
    rows = [(u, 0, 0) for u in range(6)]
    rows += [(u, 1, 1) for u in range(3)] + [(3, 2, 1), (4, 2, 1), (5, 3, 1)]
    weights = _fit(rows, window=1, keep=2)

    assert np.flatnonzero(weights[0]).tolist() == [1, 2]


def test_counting_the_pairs_in_many_blocks_of_source_items_gives_the_same_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(1)
    rows = [(int(u), int(rng.integers(5)), int(t)) for u in range(30) for t in range(8)]
    whole = _fit(rows, window=3, decay=0.7, keep=3)

    monkeypatch.setattr(transitions, "PAIR_BLOCK", 4)
    blocked = _fit(rows, window=3, decay=0.7, keep=3)

    assert np.count_nonzero(whole) > 5
    np.testing.assert_array_equal(blocked, whole)
