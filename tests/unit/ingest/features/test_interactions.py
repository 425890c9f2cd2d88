from __future__ import annotations

from core.data_settings import DataSettings
from core.event_key import text_key
from ingest.features.interactions import as_interactions
from tests.support.features_hand_case import events_table

DATA = DataSettings()


def test_a_first_click_or_view_counts_as_an_implicit_rating_and_every_rating_counts() -> None:
    events = events_table(
        [
            ("c1", 1, 10, "click", 1.0, 100),  # first touch of item 10: counts as 4.0
            ("v1", 1, 10, "view", 0.0, 110),  # item 10 again: nothing
            ("r1", 1, 10, "rating", 2.0, 120),  # a rating always counts
            ("r2", 1, 20, "rating", 5.0, 130),
            ("c2", 1, 20, "click", 1.0, 140),  # after a rating of item 20: nothing
            ("v2", 2, 10, "view", 0.0, 150),  # another user's first touch: counts
        ]
    )
    rows = as_interactions(events, DATA.implicit_rating).sort_by([("ts_ms", "ascending")])
    kept = {text_key(n): n for n in ["c1", "r1", "r2", "v2"]}
    assert [kept.get(e) for e in rows["event_id"].to_pylist()] == ["c1", "r1", "r2", "v2"]
    assert rows["rating"].to_pylist() == [DATA.implicit_rating, 2.0, 5.0, DATA.implicit_rating]


def test_ratings_alone_keep_their_order_and_values() -> None:
    events = events_table([("r2", 2, 20, "rating", 1.5, 300), ("r1", 1, 10, "rating", 4.5, 100)])
    rows = as_interactions(events, DATA.implicit_rating)
    assert rows["rating"].to_pylist() == [1.5, 4.5]
