"""Cutting rating events into parts of whole users."""

from __future__ import annotations

import numpy as np

from ingest.features.user_parts import user_parts


def test_every_row_once_and_no_user_in_two_parts() -> None:
    users = np.random.default_rng(3).integers(1, 200, 5_000)
    parts = user_parts(users, rows_per_part=300)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(users)))
    owners = [set(users[part].tolist()) for part in parts]
    assert sum(len(o) for o in owners) == len(set().union(*owners)) == len(set(users.tolist()))
    assert 10 <= len(parts) <= 17
    assert all(len(part) < 300 + 60 for part in parts)


def test_a_big_user_gets_a_part_of_its_own() -> None:
    users = np.array([1] * 10 + [2] * 3 + [3] * 3)
    assert [sorted(set(users[p].tolist())) for p in user_parts(users, rows_per_part=4)] == [
        [1],
        [2, 3],
    ]


def test_no_rows_no_parts() -> None:
    assert user_parts(np.empty(0, np.int64), rows_per_part=4) == []
