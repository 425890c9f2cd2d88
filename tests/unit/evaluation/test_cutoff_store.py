"""The online-store reads of the /recommend replay, answered from features at a cutoff."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evaluation.cutoff_features import read_time_split
from evaluation.cutoff_store import CutoffStore
from tests.support.features_hand_case import hand_events, hand_items


@pytest.fixture
def store(tmp_path: Path) -> CutoffStore:
    events, items = tmp_path / "events", tmp_path / "items"
    events.mkdir()
    items.mkdir()
    pq.write_table(hand_events(), events / "part-0.parquet")
    pq.write_table(hand_items(), items / "part-0.parquet")
    split = read_time_split(events, items, 400, label_threshold=3.5, half_life_days=1.0)
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
