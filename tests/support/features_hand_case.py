"""The features job's hand case: events and a catalog whose features are worked out by hand.

Ratings (threshold 3.5; ts in ms):

    event  user item  ts  rating      item  year  genres
    e1     1    10    100 4.0         10    1990  Action, Comedy
    e2     1    20    200 3.0         20    2000  Drama, War
    e3     2    10    200 5.0         30    -     Comedy, Drama, Romance, Thriller
    e4     1    30    300 5.0         40    2010  Documentary   (never rated)
    e5     1    10    300 2.0
    e6     2    30    300 4.0
    e7     2    20    400 4.5
    e8     1    20    500 4.0
    e9     2    10    600 1.0
    e10    1    30    700 3.5
    c1     1    20    250 (a click on an item user 1 rated at 200: it counts nowhere)

e4/e5 share a timestamp within user 1, e4/e6 within item 30: neither may see the other.
An event's `event_id` in the table is the key of its name (`EVENT_NAMES` maps it back).
"""

from __future__ import annotations

import pyarrow as pa

from core.event_key import text_key
from core.tables import EVENTS, ITEMS

RATINGS = [
    ("e1", 1, 10, 100, 4.0),
    ("e2", 1, 20, 200, 3.0),
    ("e3", 2, 10, 200, 5.0),
    ("e4", 1, 30, 300, 5.0),
    ("e5", 1, 10, 300, 2.0),
    ("e6", 2, 30, 300, 4.0),
    ("e7", 2, 20, 400, 4.5),
    ("e8", 1, 20, 500, 4.0),
    ("e9", 2, 10, 600, 1.0),
    ("e10", 1, 30, 700, 3.5),
]
EVENT_NAMES = {text_key(name): name for name in [*(r[0] for r in RATINGS), "c1"]}


def events_table(rows: list[tuple[str, int, int, str, float, int]]) -> pa.Table:
    """EVENTS rows from (name, user, item, event type, value, ts in ms); the event id is the
    key of the name."""
    return pa.table(
        {
            "event_id": [text_key(r[0]) for r in rows],
            "user_id": [r[1] for r in rows],
            "item_id": [r[2] for r in rows],
            "event_type": [r[3] for r in rows],
            "value": [r[4] for r in rows],
            "ts": pa.array([r[5] for r in rows], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "source": ["hand"] * len(rows),
        }
    ).cast(EVENTS)


def hand_events() -> pa.Table:
    rows = [(*r[:3], "rating", r[4], r[3]) for r in RATINGS] + [("c1", 1, 20, "click", 1.0, 250)]
    return events_table(rows)


def hand_items() -> pa.Table:
    return pa.table(
        {
            "item_id": [10, 20, 30, 40],
            "title": ["Ten", "Twenty", "Thirty", "Forty"],
            "genres": [
                ["Action", "Comedy"],
                ["Drama", "War"],
                ["Comedy", "Drama", "Romance", "Thriller"],
                ["Documentary"],
            ],
            "year": [1990, 2000, None, 2010],
            "imdb_id": [None] * 4,
            "tmdb_id": [None] * 4,
        }
    ).cast(ITEMS)
