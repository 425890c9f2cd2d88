"""Features as of the end of the data on the hand case (see conftest.py), worked out by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.data_settings import DataSettings
from core.online_store import UserProfile
from core.tables import ITEM_FEATURES, USER_FEATURES
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.latest_features import (
    ITEM_STATS,
    MS_PER_DAY,
    decay_weights,
    item_features_table,
    latest_item_stats,
    latest_user_features,
)
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()

THRESHOLD = 3.5


@pytest.fixture
def ratings() -> pa.Table:
    return interaction_rows(hand_events(), catalog_attributes(hand_items()), DATA.implicit_rating)


def test_user_features_after_the_last_event(ratings: pa.Table) -> None:
    table = latest_user_features(ratings, THRESHOLD)
    assert table.schema == USER_FEATURES
    users = {row["user_id"]: row for row in table.to_pylist()}
    one, two = users[1], users[2]
    assert one["user_rating_count"] == 6
    assert one["user_avg_rating"] == pytest.approx(np.mean([4, 3, 5, 2, 4, 3.5]), rel=1e-6)
    assert one["user_rating_stddev"] == pytest.approx(np.std([4, 3, 5, 2, 4, 3.5]), rel=1e-6)
    # Item 30 has no year: only e1, e2, e5 and e8 count.
    assert one["user_avg_release_year"] == pytest.approx(1995.0)
    assert one["user_release_year_stddev"] == pytest.approx(5.0)
    assert one["user_genres"] == ["Comedy", "Drama", "Romance", "Thriller", "Action"]
    assert one["user_recent_items"] == [30, 20, 30, 10]  # e10, e8, e4, e1; e2 and e5 are negative
    assert (one["user_last_ts"], two["user_last_ts"]) == (700, 600)  # e10 and e9
    # The online publish turns each row into a profile as it stands.
    assert UserProfile(**one).user_last_ts == 700
    assert two["user_rating_count"] == 4
    assert two["user_avg_rating"] == pytest.approx(3.625)
    assert two["user_genres"] == ["Comedy", "Drama", "Action", "Romance", "Thriller"]
    assert two["user_recent_items"] == [20, 30, 10]


def test_item_features_cover_the_catalog(
    ratings: pa.Table,
) -> None:
    newest = pc.max(ratings["ts_ms"]).as_py()
    stats = latest_item_stats(ratings, newest, 90.0)
    table = item_features_table(catalog_attributes(hand_items()), stats)
    assert table.schema == ITEM_FEATURES
    items = {row["item_id"]: row for row in table.to_pylist()}
    assert sorted(items) == [10, 20, 30, 40]
    assert items[10]["item_rating_count"] == 4
    assert items[10]["item_avg_rating"] == pytest.approx(3.0)
    assert items[10]["item_rating_stddev"] == pytest.approx(np.std([4, 5, 2, 1]), rel=1e-6)
    assert items[20]["item_avg_rating"] == pytest.approx(np.mean([3.0, 4.5, 4.0]), rel=1e-6)
    # Ratings milliseconds apart have not decayed: popularity is the count.
    assert items[30]["item_popularity"] == pytest.approx(3.0, rel=1e-6)
    assert items[30]["release_year"] is None
    assert items[30]["item_genres"] == ["Comedy", "Drama", "Romance"]
    never_rated = items[40]
    assert never_rated["item_rating_count"] == 0
    assert never_rated["item_avg_rating"] == 0.0
    assert never_rated["item_popularity"] == 0.0
    assert never_rated["release_year"] == 2010
    assert never_rated["item_genres"] == ["Documentary"]


def test_rated_item_missing_from_catalog_is_kept() -> None:
    stats = pa.table(
        {
            "item_id": [99],
            "item_rating_count": [2],
            "item_avg_rating": [4.0],
            "item_rating_stddev": [1.0],
            "item_popularity": [1.5],
        }
    ).cast(ITEM_STATS)
    items = {
        r["item_id"]: r
        for r in item_features_table(catalog_attributes(hand_items()), stats).to_pylist()
    }
    assert items[99]["item_rating_count"] == 2
    assert items[99]["release_year"] is None
    assert items[99]["item_genres"] == []
    assert items[10]["item_rating_count"] == 0


def test_popularity_halves_every_half_life() -> None:
    newest = 1_000 * MS_PER_DAY
    ts = np.array([newest, newest - 10 * MS_PER_DAY, newest - 20 * MS_PER_DAY])
    assert decay_weights(ts, newest, half_life_days=10.0).sum() == pytest.approx(1.75)
