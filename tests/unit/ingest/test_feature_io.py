"""The guard that every latest-features table holds one row per entity."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.feature_io import SplitEntityError, check_one_row_per_key


def test_unique_keys_pass() -> None:
    check_one_row_per_key(np.array([3, 1, 2]), "user_id")
    check_one_row_per_key(np.empty(0, np.int64), "user_id")


def test_a_key_split_across_blocks_is_named() -> None:
    with pytest.raises(SplitEntityError, match=r"1 user_id values were split .*\[7\]"):
        check_one_row_per_key(np.array([7, 1, 7]), "user_id")
