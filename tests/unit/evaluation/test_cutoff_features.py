"""Features as of a past moment on the hand case (tests/support/features_hand_case.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.data_settings import DataSettings
from core.storage import OutputManifest, write_manifest
from evaluation.cutoff_features import read_time_split, split_moment
from tests.support.features_hand_case import hand_events, hand_items

THRESHOLD = 3.5
DATA = DataSettings(label_threshold=THRESHOLD, popularity_half_life_days=1.0)
DAY_MS = 86_400_000


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Path]:
    events, items = tmp_path / "events" / "month=1970-01", tmp_path / "items"
    events.mkdir(parents=True)
    items.mkdir()
    pq.write_table(hand_events(), events / "part-0.parquet")
    pq.write_table(hand_items(), items / "part-0.parquet")
    return tmp_path / "events", items


def test_nothing_at_or_after_the_cutoff_is_known(lake: tuple[Path, Path]) -> None:
    # Cutoff 400: e7 (400) and everything later are the future.
    split = read_time_split(*lake, cutoff_ms=400, data=DATA)
    features = split.features

    users = {row["user_id"]: row for row in features.users.to_pylist()}
    # User 1 before 400: e1 (10, 4.0), e2 (20, 3.0), e4 (30, 5.0), e5 (10, 2.0).
    assert users[1]["user_rating_count"] == 4
    assert users[1]["user_recent_items"] == [30, 10]
    # User 2 before 400: e3 (10, 5.0), e6 (30, 4.0); e7 on item 20 is not seen yet.
    assert users[2]["user_rating_count"] == 2
    assert features.seen == {1: {10, 20, 30}, 2: {10, 30}}

    items = {row["item_id"]: row for row in features.items.to_pylist()}
    assert items[20]["item_rating_count"] == 1
    assert items[40]["item_rating_count"] == 0
    # Popularity decays from the newest known event (300), not from the end of the data (700).
    assert items[30]["item_popularity"] == pytest.approx(2.0)
    assert items[20]["item_popularity"] == pytest.approx(2 ** (-100 / DAY_MS), rel=1e-6)


def test_history_is_the_train_positives_and_test_positives_are_unseen_ones(
    lake: tuple[Path, Path],
) -> None:
    split = read_time_split(*lake, cutoff_ms=400, data=DATA)

    # Positives (>= 3.5) before 400, oldest first: user 1 e1 (10), e4 (30); user 2 e3, e6.
    assert split.features.history == {1: [10, 30], 2: [10, 30]}
    # From 400 on: e7 (user 2, item 20, 4.5) is new to its user; e8 and e10 are positives of
    # items user 1 had rated before; e9 is no positive.
    assert split.test_positives == {2: {20}}


def test_a_cutoff_before_every_event_is_refused(lake: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="no rating event before the cutoff"):
        read_time_split(*lake, cutoff_ms=100, data=DATA)


def test_the_split_moment_is_the_one_the_features_job_recorded(tmp_path: Path) -> None:
    write_manifest(
        tmp_path,
        OutputManifest(step="features.train", inputs={}, extra={"cutoff": "2016-03-22T08:26:11Z"}),
    )
    assert split_moment(tmp_path) == 1_458_635_171_000
    with pytest.raises(FileNotFoundError, match="starling features"):
        split_moment(tmp_path / "missing")
