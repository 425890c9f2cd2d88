"""Arrow schemas of every table in the lake, features and samples: defined once, used by all."""

from __future__ import annotations

import pyarrow as pa

EVENT_TYPES: tuple[str, ...] = ("rating", "click", "view", "impression", "tag")

EVENTS = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("value", pa.float32(), nullable=False),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)

# The lake partitions events by month: MovieLens spans decades, and one folder per day would
# leave thousands of tiny files for a 100k-rating set.
EVENT_PARTITION = "month"

QUARANTINE = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
    ]
)

ITEMS = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("genres", pa.list_(pa.string())),
        pa.field("year", pa.int32()),
        pa.field("imdb_id", pa.string()),
        pa.field("tmdb_id", pa.string()),
    ]
)

ITEM_FEATURES = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("release_year", pa.int32()),
        pa.field("item_genres", pa.list_(pa.string())),
        pa.field("item_rating_count", pa.int64()),
        pa.field("item_avg_rating", pa.float32()),
        pa.field("item_rating_stddev", pa.float32()),
        pa.field("item_popularity", pa.float32()),
    ]
)

USER_FEATURES = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("user_rating_count", pa.int64()),
        pa.field("user_avg_rating", pa.float32()),
        pa.field("user_rating_stddev", pa.float32()),
        pa.field("user_avg_release_year", pa.float32()),
        pa.field("user_release_year_stddev", pa.float32()),
        pa.field("user_genres", pa.list_(pa.string())),
        pa.field("user_recent_items", pa.list_(pa.int64())),
        # When the user last rated (epoch ms, UTC); null before their first rating.
        pa.field("user_last_ts", pa.int64()),
    ]
)

# The moment of a sample, derived by `core.context` from its ts and the user's last rating: the
# same function serves requests, so training and serving see the same context.
CONTEXT = pa.schema(
    [
        pa.field("hour_of_day", pa.int8(), nullable=False),
        pa.field("day_of_week", pa.int8(), nullable=False),
        # Null for the user's first rating: no earlier one to measure from.
        pa.field("seconds_since_last_event", pa.float32()),
    ]
)

# One row per rating event, features as of strictly before the event (point in time).
SAMPLES = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("rating", pa.float32()),
        pa.field("label", pa.int8()),
        # True for an item the user never rated, drawn for this row's user and moment; such a
        # row has no rating and label 0.
        pa.field("negative", pa.bool_(), nullable=False),
        # log q(item): the probability with which the negative sampler draws this row's item,
        # for log-q correction; set on every row, rated ones included.
        pa.field("sample_logq", pa.float32(), nullable=False),
        *[f for f in ITEM_FEATURES if f.name not in ("item_id", "item_popularity")],
        *[f for f in USER_FEATURES if f.name != "user_id"],
        *CONTEXT,
    ]
)

SEQUENCES = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("items", pa.list_(pa.int64())),
    ]
)

MAX_ITEM_GENRES = 3
MAX_USER_GENRES = 5
MAX_RECENT_ITEMS = 5
