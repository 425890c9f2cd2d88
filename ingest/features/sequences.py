"""Per-user positive item sequences of the train period: the input of item2vec and DeepWalk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.labels import positive_column
from core.tables import SEQUENCES
from ingest.features.point_in_time import entities, sort_by_entity
from ingest.features.samples import in_period

MIN_ITEMS = 2


def user_sequences(
    block: pa.Table, cutoff_ms: int, label_threshold: float, min_items: int = MIN_ITEMS
) -> pa.Table:
    """SEQUENCES rows of a block of whole users' RATING_ROWS: their train-period positives.

    Items are in time order; only ratings before the cutoff and positives (`core.labels`) count.
    Users with fewer than `min_items` such items get no row: a sequence of one has no context.
    """
    train = in_period(block, cutoff_ms, test=False)
    positives = train.filter(positive_column(train["rating"], label_threshold))
    history = sort_by_entity(positives, "user_id")
    rows = entities(history["user_id"].to_numpy(), history["ts_ms"].to_numpy())
    sizes = rows.end[rows.firsts] - rows.firsts
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]), pa.int32())
    items = pa.ListArray.from_arrays(offsets, history["item_id"].combine_chunks())
    table = pa.table({"user_id": history["user_id"].take(rows.firsts), "items": items})
    return table.filter(pa.array(sizes >= min_items)).cast(SEQUENCES)
