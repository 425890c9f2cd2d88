"""The cutoff store: the online-store reads of recall evaluation and the /recommend replay."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core.data_settings import DataSettings
from evaluation.cutoff_features import read_time_split
from evaluation.cutoff_store import CutoffStore
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.latest_features import latest_item_stats, latest_user_features
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()


@pytest.fixture
def store(tmp_path: Path) -> CutoffStore:
    events, items = tmp_path / "events", tmp_path / "items"
    events.mkdir()
    items.mkdir()
    pq.write_table(hand_events(), events / "part-0.parquet")
    pq.write_table(hand_items(), items / "part-0.parquet")
    split = read_time_split(events, items, 400, DataSettings(popularity_half_life_days=1.0))
    return CutoffStore.publish(split.features, tmp_path / "scratch")


def test_profiles_and_seen_sets_are_those_of_the_cutoff(store: CutoffStore) -> None:
    one = store.user_state(1).profile
    assert one is not None
    assert (one.user_rating_count, one.user_recent_items) == (4, [30, 10])
    assert store.user_state(2).seen == {10, 30}
    unknown = store.user_state(99)
    assert unknown.profile is None and unknown.seen == set()


def test_the_ranker_reads_the_same_cutoff_profiles_in_one_call(store: CutoffStore) -> None:
    found = store.profiles([1, 99, 2])
    assert set(found) == {1, 2}
    assert found[1] == store.user_state(1).profile


def test_popularity_ranks_only_items_rated_before_the_cutoff(store: CutoffStore) -> None:
    # Ratings before 400: item 10 three times, 30 twice, 20 once; 40 never.
    assert [item for item, _ in store.popular(10)] == [10, 30, 20]
    assert [item for item, _ in store.popular(1)] == [10]


def _features_job_tables(cutoff_ms: int) -> tuple[pa.Table, pa.Table]:
    """ITEM_STATS and USER_FEATURES as the features job's functions compute them over the
    rating events before `cutoff_ms`."""
    events = hand_events()
    rows = interaction_rows(events, catalog_attributes(hand_items()), DATA.implicit_rating)
    rows = rows.filter(pc.less(rows["ts_ms"], cutoff_ms))
    newest = int(pc.max(rows["ts_ms"]).as_py())
    stats = latest_item_stats(rows, newest_ts_ms=newest, half_life_days=1.0)
    return stats, latest_user_features(rows, label_threshold=3.5)


def test_popularity_and_user_genres_are_what_the_features_job_computes(
    store: CutoffStore,
) -> None:
    stats, users = _features_job_tables(cutoff_ms=400)

    expected = sorted(
        zip(stats["item_id"].to_pylist(), stats["item_popularity"].to_pylist(), strict=True),
        key=lambda pair: (-pair[1], pair[0]),
    )
    assert store.popular(10) == expected
    for row in users.to_pylist():
        profile = store.user_state(row["user_id"]).profile
        assert profile is not None and profile.user_genres == row["user_genres"]
    # User 1's positives before 400: items 10 (Action, Comedy) and 30 (Comedy, Drama,
    # Romance, Thriller); ties go by name.
    one = store.user_state(1).profile
    assert one is not None
    assert one.user_genres == ["Comedy", "Action", "Drama", "Romance", "Thriller"]


def test_genre_rankings_read_the_item_genres_serving_reads(store: CutoffStore) -> None:
    # Item 30's fourth genre is past MAX_ITEM_GENRES: serving's genre index never lists it.
    genres = store.genres()
    assert [item for item, _ in genres.top("Comedy", 5)] == [10, 30]
    assert genres.top("Thriller", 5) == []


def test_the_most_popular_baseline_ranks_by_all_time_counts(store: CutoffStore) -> None:
    counts = store.ranked_by("item_rating_count")
    assert counts.popular(10) == [(10, 3.0), (30, 2.0), (20, 1.0)]
    assert counts.user_state(1) == store.user_state(1)
