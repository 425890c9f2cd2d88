"""Point-in-time features of the hand case (see conftest.py), worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from core.data_settings import DataSettings
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.point_in_time import with_item_side, with_user_side
from ingest.features.samples import in_period, split_cutoff, to_samples
from tests.support.features_hand_case import EVENT_NAMES, hand_events, hand_items

DATA = DataSettings()

THRESHOLD = 3.5
TOP = ["Comedy", "Action", "Drama", "Romance", "Thriller"]
TOP_WITH_DRAMA_TIED = ["Comedy", "Drama", "Action", "Romance", "Thriller"]

# event: (user count, avg, stddev, avg release year, its stddev, genres, recent items,
#         item count, avg, stddev)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "e1": (0, 0.0, 0.0, 0.0, 0.0, [], [], 0, 0.0, 0.0),
    "e2": (1, 4.0, 0.0, 1990.0, 0.0, ["Action", "Comedy"], [10], 0, 0.0, 0.0),
    "e3": (0, 0.0, 0.0, 0.0, 0.0, [], [], 1, 4.0, 0.0),
    # e4 and e5 share ts 300 for user 1: each sees e1 and e2, never the other.
    "e4": (2, 3.5, 0.5, 1995.0, 5.0, ["Action", "Comedy"], [10], 0, 0.0, 0.0),
    "e5": (2, 3.5, 0.5, 1995.0, 5.0, ["Action", "Comedy"], [10], 2, 4.5, 0.5),
    # e6 shares ts 300 with e4 on item 30: the item has no earlier rating.
    "e6": (1, 5.0, 0.0, 1990.0, 0.0, ["Action", "Comedy"], [10], 0, 0.0, 0.0),
    "e7": (2, 4.5, 0.5, 1990.0, 0.0, TOP, [30, 10], 1, 3.0, 0.0),
    "e8": (
        4,
        3.5,
        math.sqrt(1.25),
        float(np.mean([1990, 2000, 1990])),
        float(np.std([1990, 2000, 1990])),
        TOP,
        [30, 10],
        2,
        3.75,
        0.75,
    ),
    "e9": (
        3,
        4.5,
        float(np.std([5.0, 4.0, 4.5])),
        1995.0,
        5.0,
        TOP_WITH_DRAMA_TIED,
        [20, 30, 10],
        3,
        11 / 3,
        float(np.std([4.0, 5.0, 2.0])),
    ),
    # Six genres by now: War ties with three others at 1 and loses on its name.
    "e10": (5, 3.6, math.sqrt(1.04), 1995.0, 5.0, TOP_WITH_DRAMA_TIED, [20, 30, 10], 2, 4.5, 0.5),
}
COLUMNS = (
    "user_rating_count",
    "user_avg_rating",
    "user_rating_stddev",
    "user_avg_release_year",
    "user_release_year_stddev",
    "user_genres",
    "user_recent_items",
    "item_rating_count",
    "item_avg_rating",
    "item_rating_stddev",
)


def build_samples(events: pa.Table, items: pa.Table) -> pa.Table:
    """The features job's sample chain on one block (the whole hand case)."""
    ratings = interaction_rows(events, catalog_attributes(items), DATA.implicit_rating)
    return to_samples(with_user_side(with_item_side(ratings), THRESHOLD), THRESHOLD)


@pytest.fixture
def samples() -> dict[str, dict[str, Any]]:
    rows = build_samples(hand_events(), hand_items()).to_pylist()
    return {EVENT_NAMES[row["event_id"]]: row for row in rows}


def test_one_sample_per_rating_and_clicks_ignored(samples: dict[str, dict[str, Any]]) -> None:
    assert sorted(samples) == sorted(EXPECTED)


@pytest.mark.parametrize("event_id", sorted(EXPECTED))
def test_features_see_only_strictly_earlier_events(
    samples: dict[str, dict[str, Any]], event_id: str
) -> None:
    row = samples[event_id]
    for column, expected in zip(COLUMNS, EXPECTED[event_id], strict=True):
        value = row[column]
        if isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-6, abs=1e-6), column
        else:
            assert value == expected, column


# event: (the user's last rating before it, seconds since then). The click c1 at 250 is on an
# item user 1 rated before, so it counts nowhere, and e4/e5 share ts 300: neither is the
# other's previous event.
PREVIOUS: dict[str, tuple[int | None, float | None]] = {
    "e1": (None, None),
    "e2": (100, 0.1),
    "e3": (None, None),
    "e4": (200, 0.1),
    "e5": (200, 0.1),
    "e6": (200, 0.1),
    "e7": (300, 0.1),
    "e8": (300, 0.2),
    "e9": (400, 0.2),
    "e10": (500, 0.2),
}


@pytest.mark.parametrize("event_id", sorted(PREVIOUS))
def test_time_since_the_previous_rating_sees_only_earlier_ratings(
    samples: dict[str, dict[str, Any]], event_id: str
) -> None:
    last, seconds = PREVIOUS[event_id]
    row = samples[event_id]
    assert row["user_last_ts"] == last
    if seconds is None:  # a user's first rating: null, which the encoder's missing handling takes
        assert row["seconds_since_last_event"] is None
    else:
        assert row["seconds_since_last_event"] == pytest.approx(seconds)
    # ts 100..700 ms after the epoch: hour 0 of a Thursday (Monday is day 0).
    assert (row["hour_of_day"], row["day_of_week"]) == (0, 3)


def test_labels_catalog_facts_and_time(samples: dict[str, dict[str, Any]]) -> None:
    assert {e: r["label"] for e, r in samples.items() if r["label"] == 0} == {
        "e2": 0,
        "e5": 0,
        "e9": 0,
    }
    assert samples["e10"]["label"] == 1  # exactly at the threshold
    assert samples["e4"]["release_year"] is None
    assert samples["e4"]["item_genres"] == ["Comedy", "Drama", "Romance"]
    assert samples["e1"]["release_year"] == 1990
    assert int(samples["e8"]["ts"].timestamp() * 1000) == 500


def test_time_split_keeps_equal_timestamps_together() -> None:
    samples = build_samples(hand_events(), hand_items())
    ts = samples["ts"].cast(pa.int64()).to_numpy()
    cutoff = split_cutoff(ts, 0.2)
    assert cutoff == 520  # 0.8 quantile of the ten rating times, rounded up to a whole ms
    test = in_period(samples, cutoff, test=True)
    train = in_period(samples, cutoff, test=False)
    assert sorted(EVENT_NAMES[key] for key in test["event_id"].to_pylist()) == ["e10", "e9"]
    assert train.num_rows == 8
    assert split_cutoff(np.array([300, 300, 300, 300]), 0.2) == 300  # one moment: all test


def test_no_ratings_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="no ratings, clicks or views"):
        split_cutoff(np.empty(0, dtype=np.int64), 0.2)
