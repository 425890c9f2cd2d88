"""The per-user split: which ratings each user holds out, and features of the rest only."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data_settings import DataSettings
from core.tables import EVENTS
from evaluation.per_user_split import held_out_mask, read_per_user_split
from tests.support.features_hand_case import hand_events, hand_items

THRESHOLD = 3.5
DATA = DataSettings(label_threshold=THRESHOLD, popularity_half_life_days=1.0)


def _mask(rows: list[tuple[int, int, int]], train_fraction: float = 0.8) -> list[bool]:
    users, items, ts = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return held_out_mask(users, ts, items, train_fraction).tolist()


def _peers_held_out(rows: list[tuple[int, int, int]], frac: float) -> set[tuple[int, int, int]]:
    """peers.py's `split(rows, frac, per_user=True)`, its test part, as the yardstick has it."""
    by = collections.defaultdict(list)
    for r in rows:
        by[r[0]].append(r)
    held = set()
    for rs in by.values():
        rs.sort(key=lambda r: (r[2], r[1]))
        held |= set(rs[round(frac * len(rs)) :])
    return held


def test_each_user_holds_out_their_last_fifth_in_time() -> None:
    # (user, item, ts), rows out of order: user 1 rated five items, user 2 two.
    rows = [(1, 50, 500), (2, 10, 100), (1, 10, 100), (1, 40, 400), (1, 20, 200), (1, 30, 300)]
    rows.append((2, 20, 900))
    # User 1 keeps round(0.8 * 5) = 4 and holds out item 50; user 2 keeps round(1.6) = 2.
    assert _mask(rows) == [True, False, False, False, False, False, False]


def test_ratings_of_one_moment_are_ordered_by_item_and_halves_round_to_even() -> None:
    # One moment: item order decides. round(0.5 * 3) = 2 kept, round(0.5 * 5) = 2 kept.
    three = [(1, 30, 7), (1, 10, 7), (1, 20, 7)]
    five = [(2, i, 7) for i in (5, 4, 3, 2, 1)]
    assert (
        _mask(three + five, train_fraction=0.5) == [True, False, False] + [True] * 3 + [False] * 2
    )


def test_the_same_ratings_are_held_out_as_by_peers_py() -> None:
    # 40 users, 300 items, 50 moments: many ties of one moment within a user.
    drawn = np.random.default_rng(3).integers((0, 0, 0), (40, 300, 50), size=(2000, 3))
    rows = sorted({(u, i, t) for u, i, t in drawn.tolist()})
    held = {row for row, out in zip(rows, _mask(rows), strict=True) if out}
    assert held == _peers_held_out(rows, 0.8)
    assert 0.15 < len(held) / len(rows) < 0.25


@pytest.fixture
def hand_lake(tmp_path: Path) -> tuple[Path, Path]:
    events, items = tmp_path / "events" / "month=1970-01", tmp_path / "items"
    events.mkdir(parents=True)
    items.mkdir()
    pq.write_table(hand_events(), events / "part-0.parquet")
    pq.write_table(hand_items(), items / "part-0.parquet")
    return tmp_path / "events", items


def test_features_are_those_of_the_training_part_only(hand_lake: tuple[Path, Path]) -> None:
    # The hand case: user 1 holds out e10 (item 30 at 700), user 2 e9 (item 10 at 600, 1.0).
    split = read_per_user_split(*hand_lake, DATA, trained_before_ms=400).split
    features = split.features

    users = {row["user_id"]: row for row in features.users.to_pylist()}
    assert (users[1]["user_rating_count"], users[2]["user_rating_count"]) == (5, 3)
    # User 2's e7 (item 20 at 400) is known: it is before their own cutoff, past the global one.
    assert features.seen == {1: {10, 20, 30}, 2: {10, 20, 30}}
    items = {row["item_id"]: row for row in features.items.to_pylist()}
    assert (items[10]["item_rating_count"], items[30]["item_rating_count"]) == (3, 2)
    # e10 rates an item user 1 had rated (e4), e9 is no positive: nothing to find.
    assert split.test_positives == {}


def _lake(tmp_path: Path, rows: list[tuple[int, int, int, float]]) -> tuple[Path, Path]:
    """(user, item, ts_ms, rating) rows as the lake's rating events, beside the hand catalog."""
    events, items = tmp_path / "events" / "month=1970-01", tmp_path / "items"
    events.mkdir(parents=True)
    items.mkdir()
    users, item_ids, ts, ratings = zip(*rows, strict=True)
    table = pa.table(
        {
            "event_id": pa.array(range(len(rows)), pa.int64()),
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array(item_ids, pa.int64()),
            "event_type": ["rating"] * len(rows),
            "value": pa.array(ratings, pa.float32()),
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "source": ["hand"] * len(rows),
        }
    ).cast(EVENTS)
    pq.write_table(table, events / "part-0.parquet")
    pq.write_table(hand_items(), items / "part-0.parquet")
    return tmp_path / "events", items


def test_positives_are_held_out_likes_of_items_new_to_their_user(tmp_path: Path) -> None:
    first = [(10, 100, 4.0), (20, 200, 2.0), (30, 300, 5.0), (40, 400, 4.0)]
    rows = [(1, i, t, r) for i, t, r in first] + [(1, 50, 900, 4.5)]
    rows += [(2, i, 300, 4.0) for i in (20, 30, 40, 50, 60)]  # holds out item 60
    rows += [(3, 10, 100, 5.0), (3, 50, 150, 1.0), (3, 10, 600, 5.0)]  # a re-rating: seen
    rows += [(4, i, 100 * i, 4.0) for i in range(1, 5)] + [(4, 60, 800, 3.0)]  # no like
    split = read_per_user_split(*_lake(tmp_path, rows), DATA, trained_before_ms=500)

    assert split.split.test_positives == {1: {50}, 2: {60}}
    # User 2's item 60 was rated at 300, before the models' cutoff at 500; user 1's at 900.
    assert split.positives_seen_in_training == 1
    # User 1's held-out rating counts nowhere: item 50 is rated by users 2 and 3 only.
    items = {row["item_id"]: row for row in split.split.features.items.to_pylist()}
    assert items[50]["item_rating_count"] == 2
    assert split.split.features.history[1] == [10, 30, 40]
