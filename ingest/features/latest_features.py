"""Item and user features as of the end of the data: what serving sees.

They are the window functions of `ingest.features.point_in_time`, with each window reaching the
end of its entity's events, so the definitions cannot drift apart between samples and serving.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.tables import ITEM_FEATURES, USER_FEATURES
from ingest.features.item_attributes import lookup
from ingest.features.point_in_time import (
    ITEM_SIDE,
    entities,
    entity_order,
    item_side,
    sort_by_entity,
    user_side,
    window_sums,
)

MS_PER_DAY = 86_400_000

ITEM_STATS = pa.schema(
    [ITEM_FEATURES.field("item_id"), *ITEM_SIDE, ITEM_FEATURES.field("item_popularity")]
)


def latest_user_features(block: pa.Table, label_threshold: float) -> pa.Table:
    """One USER_FEATURES row per user of a block of whole users' RATING_ROWS, after all events."""
    history = sort_by_entity(block, "user_id")
    rows = entities(history["user_id"].to_numpy(), history["ts_ms"].to_numpy())
    lo, hi = rows.start[rows.firsts], rows.end[rows.firsts]
    columns = {
        "user_id": history["user_id"].take(rows.firsts),
        **user_side(history, lo, hi, label_threshold),
    }
    return pa.table(columns).select(USER_FEATURES.names).cast(USER_FEATURES)


def decay_weights(ts_ms: np.ndarray, newest_ts_ms: int, half_life_days: float) -> np.ndarray:
    """Each rating weighs 2^(-age / half-life), its age measured back from the newest event."""
    age_days = (newest_ts_ms - ts_ms.astype(np.float64)) / MS_PER_DAY
    return np.exp2(-age_days / half_life_days)


def latest_item_stats(block: pa.Table, newest_ts_ms: int, half_life_days: float) -> pa.Table:
    """One ITEM_STATS row per item of a block of whole items' RATING_ROWS, over all ratings.

    Popularity is the time-decayed rating count: recent ratings count fully, old ones fade.
    """
    order = entity_order(block["item_id"].to_numpy(), block["ts_ms"].to_numpy())
    items = block["item_id"].to_numpy()[order]
    ts = block["ts_ms"].to_numpy()[order]
    rows = entities(items, ts)
    lo, hi = rows.start[rows.firsts], rows.end[rows.firsts]
    popularity = window_sums(decay_weights(ts, newest_ts_ms, half_life_days), lo, hi)
    columns = {
        "item_id": pa.array(items[rows.firsts], pa.int64()),
        **item_side(block["rating"].to_numpy()[order], lo, hi),
        "item_popularity": pa.array(popularity, pa.float32()),
    }
    return pa.table(columns).select(ITEM_STATS.names).cast(ITEM_STATS)


def item_features_table(catalog: pa.Table, stats: pa.Table) -> pa.Table:
    """ITEM_FEATURES for every catalog item and every rated item, sorted by item_id.

    `catalog` holds CATALOG_ATTRIBUTES and `stats` ITEM_STATS. Items without ratings get count 0
    and 0.0 statistics; rated items missing from the catalog get a null year and no genres.
    """
    stats = stats.sort_by("item_id")
    ids = np.union1d(catalog["item_id"].to_numpy(), stats["item_id"].to_numpy()).astype(np.int64)
    facts = lookup(catalog, ids)
    numbers = lookup(stats, ids)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "item_id": pa.array(ids, pa.int64()),
        "release_year": facts["release_year"],
        "item_genres": pc.if_else(
            pc.is_null(facts["item_genres"]),
            pa.scalar([], type=ITEM_FEATURES.field("item_genres").type),
            facts["item_genres"],
        ),
    }
    for field in ITEM_STATS:
        if field.name != "item_id":
            zero = pa.scalar(0, type=field.type)
            columns[field.name] = pc.fill_null(numbers[field.name], zero)
    return pa.table(columns).select(ITEM_FEATURES.names).cast(ITEM_FEATURES)
