"""Item and user features as they stood at a past moment: what serving would have read then.

Offline evaluation replays serving at the train/test cutoff. The published features cover every
event up to the end of the data, so replaying with them would leak the test period (a test
user's recent items, the items' rating counts, popularity). These are the features job's own
functions (`ingest.features.latest_features`, `ingest.features.sequences`) run in memory over
the events before the cutoff, so an offline number cannot drift from what serving computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data_settings import DataSettings
from core.errors import MissingDataError
from core.filesystem import StoragePath
from core.labels import positive_column
from core.storage import parquet_dataset, read_manifest
from core.tables import EVENTS, ITEMS
from ingest.features.interactions import interaction_filter, interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.latest_features import (
    item_features_table,
    latest_item_stats,
    latest_user_features,
)
from ingest.features.samples import in_period
from ingest.features.sequences import user_sequences


@dataclass(frozen=True)
class CutoffFeatures:
    """ITEM_FEATURES and USER_FEATURES over the known rating events (the time split's events
    strictly before `cutoff_ms`; the per-user split's training part, all before `cutoff_ms`),
    every item each user had rated in them (the online seen sets; `rated` holds them newest
    first, as the online store reads them), and each user's positives among them, oldest first
    (the features job's train sequences, kept however short)."""

    cutoff_ms: int
    items: pa.Table
    users: pa.Table
    seen: dict[int, set[int]]
    rated: dict[int, list[int]]
    history: dict[int, list[int]]


@dataclass(frozen=True)
class TimeSplit:
    """The features of the known part, and what each user went on to like: their held-out
    positives (at or after the cutoff, or in their own last share on a per-user split) among
    items they had not rated in the known part."""

    features: CutoffFeatures
    test_positives: dict[int, set[int]]


def read_time_split(
    events: StoragePath, items: StoragePath, cutoff_ms: int, data: DataSettings
) -> TimeSplit:
    """Both sides of the cutoff from one read of the lake's interactions."""
    rows, catalog = read_interaction_rows(events, items, data.implicit_rating)
    before = in_period(rows, cutoff_ms, test=False)
    features = features_of(
        before, catalog, cutoff_ms, data.label_threshold, data.popularity_half_life_days
    )
    later = in_period(rows, cutoff_ms, test=True)
    return TimeSplit(features, unseen_positives(later, features.seen, data.label_threshold))


def read_interaction_rows(
    events: StoragePath, items: StoragePath, implicit_rating: float
) -> tuple[pa.Table, pa.Table]:
    """The lake's interactions (ratings, clicks, views) as RATING_ROWS, and the catalog as
    CATALOG_ATTRIBUTES."""
    catalog = catalog_attributes(parquet_dataset(items).to_table(columns=ITEMS.names).cast(ITEMS))
    table = parquet_dataset(events).to_table(columns=EVENTS.names, filter=interaction_filter())
    return interaction_rows(table.cast(EVENTS), catalog, implicit_rating), catalog


def unseen_positives(
    held_out: pa.Table, seen: dict[int, set[int]], label_threshold: float
) -> dict[int, set[int]]:
    """Each user's positives among the `held_out` rows, less the items `seen` says they had
    rated: a recommender never shows those again, so they cannot be found."""
    held_out = held_out.filter(positive_column(held_out["rating"], label_threshold))
    positives: dict[int, set[int]] = {}
    users = held_out["user_id"].to_numpy().tolist()
    for user, item in zip(users, held_out["item_id"].to_numpy().tolist(), strict=True):
        if item not in seen.get(user, ()):
            positives.setdefault(user, set()).add(item)
    return positives


def features_of(
    known: pa.Table,
    catalog: pa.Table,
    cutoff_ms: int,
    label_threshold: float,
    half_life_days: float,
) -> CutoffFeatures:
    """Features of the `known` RATING_ROWS (all before `cutoff_ms`) for every item of
    `catalog` (CATALOG_ATTRIBUTES) and every rated one, popularity decayed from the newest of
    them, as the features job decays it from the newest event."""
    if known.num_rows == 0:
        raise ValueError("no rating event before the cutoff: nothing to replay")
    newest = int(pc.max(known["ts_ms"]).as_py())
    stats = latest_item_stats(known, newest_ts_ms=newest, half_life_days=half_life_days)
    rated = _newest_first(known)
    seen = {user: set(items) for user, items in rated.items()}
    # min_items=1: a user with a single positive is warm, and item-KNN reads their one item.
    sequences = user_sequences(known, cutoff_ms, label_threshold, min_items=1)
    history = dict(
        zip(sequences["user_id"].to_pylist(), sequences["items"].to_pylist(), strict=True)
    )
    return CutoffFeatures(
        cutoff_ms=cutoff_ms,
        items=item_features_table(catalog, stats),
        users=latest_user_features(known, label_threshold),
        seen=seen,
        rated=rated,
        history=history,
    )


def _newest_first(rows: pa.Table) -> dict[int, list[int]]:
    """Each user's distinct items, by the time of their latest rating, newest first."""
    order = np.lexsort((-rows["ts_ms"].to_numpy(), rows["user_id"].to_numpy()))
    users = rows["user_id"].to_numpy()[order].tolist()
    items = rows["item_id"].to_numpy()[order].tolist()
    rated: dict[int, dict[int, None]] = {}
    for user, item in zip(users, items, strict=True):
        rated.setdefault(user, {}).setdefault(item, None)
    return {user: list(items) for user, items in rated.items()}


def split_moment(train_samples: StoragePath) -> int:
    """The train/test cutoff the features job recorded with the train samples, in epoch ms."""
    manifest = read_manifest(train_samples)
    if manifest is None or "cutoff" not in manifest.extra:
        raise MissingDataError(f"{train_samples} has no committed split: run `starling features`")
    return round(datetime.fromisoformat(manifest.extra["cutoff"]).timestamp() * 1000)
