"""Pure parts of the data statistics: long tail, partial counts, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data_settings import DataSettings
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.stats import (
    daily_counts,
    daily_distinct,
    long_tail,
    rating_counts,
    write_plots,
)
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()


def test_long_tail_takes_most_rated_items_first() -> None:
    tail = long_tail(np.array([1, 0, 6, 3]), points=4)
    assert [p["item_share"] for p in tail] == [0.25, 0.5, 0.75, 1.0]
    assert [p["rating_share"] for p in tail] == pytest.approx([0.6, 0.9, 1.0, 1.0])
    assert long_tail(np.array([0, 0])) == []


def test_partial_counts_of_the_hand_case() -> None:
    events = hand_events()
    counts = daily_counts(events).to_pylist()
    assert counts == [{"day": 0, "events": 11, "ratings": 10}]  # all within 1970-01-01
    ratings = interaction_rows(events, catalog_attributes(hand_items()), DATA.implicit_rating)
    assert daily_distinct(ratings, "user_id", "active_users").to_pylist() == [
        {"day": 0, "active_users": 2}
    ]
    histogram = dict(zip(*rating_counts(ratings).to_pydict().values(), strict=True))
    assert histogram == {1.0: 1, 2.0: 1, 3.0: 1, 3.5: 1, 4.0: 3, 4.5: 1, 5.0: 2}


def test_plots_are_written(tmp_path: Path) -> None:
    stats = {
        "daily": [
            {"date": "2020-01-01", "events": 3, "ratings": 2, "active_users": 1, "active_items": 2},
            {"date": "2020-01-09", "events": 1, "ratings": 1, "active_users": 1, "active_items": 1},
        ],
        "rating_histogram": {"1": 1, "4.5": 2},
        "long_tail": long_tail(np.array([2, 1])),
    }
    names = write_plots(stats, tmp_path)
    assert names == ["daily_activity.png", "rating_histogram.png", "long_tail.png"]
    for name in names:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
