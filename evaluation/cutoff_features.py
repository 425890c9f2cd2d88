"""Item and user features as they stood at a past moment: what serving would have read then.

Offline evaluation replays serving at the train/test cutoff. The published features cover every
event up to the end of the data, so replaying with them would leak the test period (a test
user's recent items, the items' rating counts, popularity). These are the same computations as
the features job's (`ingest.features.latest_features`), run in memory over the events before the
cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import MissingDataError
from core.filesystem import StoragePath
from core.storage import parquet_dataset, read_manifest
from core.tables import EVENTS, ITEMS
from ingest.features.item_attributes import catalog_attributes, epoch_ms, rating_rows
from ingest.features.latest_features import (
    item_features_table,
    latest_item_stats,
    latest_user_features,
)


@dataclass(frozen=True)
class CutoffFeatures:
    """ITEM_FEATURES and USER_FEATURES over the rating events strictly before `cutoff_ms`, and
    every item each user had rated by then (the online seen sets)."""

    cutoff_ms: int
    items: pa.Table
    users: pa.Table
    seen: dict[int, set[int]]


def features_at(
    events: StoragePath,
    items: StoragePath,
    cutoff_ms: int,
    label_threshold: float,
    half_life_days: float,
) -> CutoffFeatures:
    """Features of the lake's rating events with ts < `cutoff_ms`, popularity decayed from the
    newest of them, as the features job decays it from the newest event."""
    catalog = catalog_attributes(parquet_dataset(items).to_table(columns=ITEMS.names).cast(ITEMS))
    table = parquet_dataset(events).to_table(
        columns=EVENTS.names, filter=pc.field("event_type") == "rating"
    )
    table = table.filter(pc.less(epoch_ms(table["ts"]), pa.scalar(cutoff_ms, pa.int64())))
    rows = rating_rows(table.cast(EVENTS), catalog)
    ts = rows["ts_ms"].to_numpy()
    if len(ts) == 0:
        raise ValueError("no rating event before the cutoff: nothing to replay")
    newest = int(ts.max())
    stats = latest_item_stats(rows, newest_ts_ms=newest, half_life_days=half_life_days)
    seen: dict[int, set[int]] = {}
    for user, item in zip(
        rows["user_id"].to_numpy().tolist(), rows["item_id"].to_numpy().tolist(), strict=True
    ):
        seen.setdefault(user, set()).add(item)
    return CutoffFeatures(
        cutoff_ms=cutoff_ms,
        items=item_features_table(catalog, stats),
        users=latest_user_features(rows, label_threshold),
        seen=seen,
    )


def split_moment(train_samples: StoragePath) -> int:
    """The train/test cutoff the features job recorded with the train samples, in epoch ms."""
    manifest = read_manifest(train_samples)
    if manifest is None or "cutoff" not in manifest.extra:
        raise MissingDataError(f"{train_samples} has no committed split: run `starling features`")
    return round(datetime.fromisoformat(manifest.extra["cutoff"]).timestamp() * 1000)
