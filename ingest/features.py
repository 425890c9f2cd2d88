"""`starling features`: samples, feature tables, sequences and statistics from the lake.

Ray must already be initialised by the caller. Every output folder is written atomically and
carries a manifest whose inputs are the fingerprints of the events and items folders, so
`core.storage.is_fresh(folder, feature_inputs(paths))` tells whether it is up to date.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import ray
from pydantic import BaseModel, Field
from ray.data import Dataset

from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import OutputManifest, fingerprint
from core.tables import EVENTS, ITEMS, SAMPLES, SEQUENCES, USER_FEATURES
from ingest.feature_io import (
    check_one_row_per_key,
    checked_per_key,
    co_locate,
    configure_ray_data,
    per_block,
    read_dataset,
    read_table,
    shuffle_partitions,
    write_dataset,
    write_table,
)
from ingest.item_attributes import catalog_attributes, rating_rows
from ingest.latest_features import (
    ITEM_STATS,
    item_features_table,
    latest_item_stats,
    latest_user_features,
)
from ingest.point_in_time import with_item_side, with_user_side
from ingest.samples import in_period, split_cutoff, to_samples
from ingest.sequences import user_sequences
from ingest.stats import build_stats, write_stats

log = logging.getLogger(__name__)


class FeaturesSummary(BaseModel):
    """What one run of the features job produced."""

    events: int = Field(description="events read from the lake, every type")
    rating_events: int
    train_samples: int
    test_samples: int
    item_features: int
    user_features: int
    sequences: int
    cutoff: datetime = Field(description="first moment of the test period (ts >= cutoff)")
    newest_event: datetime = Field(description="the moment popularity decays from")
    seconds: float


def feature_inputs(paths: StarlingPaths) -> dict[str, str]:
    """Fingerprints of the inputs, as stored in every output manifest."""
    return {"events": fingerprint(paths.events), "items": fingerprint(paths.items)}


def _as_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def _event_times(ratings: Dataset) -> np.ndarray:
    batches = ratings.select_columns(["ts_ms"]).iter_batches(batch_format="numpy", batch_size=None)
    parts = [batch["ts_ms"] for batch in batches]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _period(samples: Dataset, cutoff_ms: int, test: bool) -> Dataset:
    kwargs = {"cutoff_ms": cutoff_ms, "test": test}
    return samples.map_batches(in_period, batch_format="pyarrow", fn_kwargs=kwargs)


def _collect(ds: Dataset, schema: pa.Schema) -> pa.Table:
    """A small dataset (one row per item) as one driver-side table."""
    return pa.concat_tables([schema.empty_table(), *ray.get(ds.to_arrow_refs())])


def build_features(settings: Settings, paths: StarlingPaths) -> FeaturesSummary:
    """Build every output of the features job from `paths.events` and `paths.items`.

    Two shuffles do all the work: rating events co-located by user (user-side features of every
    sample, latest user features, sequences), then those rows co-located by item (item-side
    features of every sample, latest item statistics).
    """
    started = time.perf_counter()
    configure_ray_data()
    inputs = feature_inputs(paths)
    threshold = settings.data.label_threshold

    def manifest(step: str, **extra: Any) -> OutputManifest:
        return OutputManifest(step=f"features.{step}", inputs=inputs, extra=extra)

    catalog = catalog_attributes(read_table(paths.items, ITEMS))
    events = read_dataset(paths.events, EVENTS).materialize()
    ratings = events.map_batches(
        rating_rows, batch_format="pyarrow", fn_kwargs={"catalog": catalog}
    )
    ts = _event_times(ratings)
    cutoff_ms = split_cutoff(ts, settings.data.test_fraction)
    newest_ms = int(ts.max())
    partitions = shuffle_partitions(len(ts))
    split = {"cutoff": _as_datetime(cutoff_ms).isoformat()}
    log.info("features: %d rating events, test period from %s", len(ts), split["cutoff"])

    by_user = co_locate(ratings, "user_id", partitions).materialize()
    users = write_dataset(
        checked_per_key(per_block(by_user, latest_user_features, threshold=threshold), "user_id"),
        paths.user_features,
        USER_FEATURES,
        manifest("users"),
    )
    sequences = write_dataset(
        per_block(by_user, user_sequences, cutoff_ms=cutoff_ms, threshold=threshold),
        paths.sequences,
        SEQUENCES,
        manifest("sequences", **split),
    )
    with_users = per_block(by_user, with_user_side, threshold=threshold)
    by_item = co_locate(with_users, "item_id", partitions).materialize()

    kwargs = {"newest_ts_ms": newest_ms, "half_life_days": settings.data.popularity_half_life_days}
    item_stats = _collect(per_block(by_item, latest_item_stats, **kwargs), ITEM_STATS)
    check_one_row_per_key(item_stats["item_id"].to_numpy(), "item_id")
    item_table = item_features_table(catalog, item_stats)
    items = write_table(item_table, paths.item_features, manifest("items"))
    log.info("features: %d users, %d items, %d sequences written", users, items, sequences)
    counts = item_table["item_rating_count"].to_numpy()
    write_stats(paths.stats, build_stats(events, by_user, by_item, counts), manifest("stats"))
    # The user-side copy of the ratings is no longer needed: free its object-store memory.
    del by_user, with_users

    samples = per_block(by_item, with_item_side).map_batches(
        to_samples, batch_format="pyarrow", fn_kwargs={"threshold": threshold}
    )
    train = write_dataset(
        _period(samples, cutoff_ms, test=False),
        paths.train_samples,
        SAMPLES,
        manifest("train", **split),
    )
    test = write_dataset(
        _period(samples, cutoff_ms, test=True),
        paths.test_samples,
        SAMPLES,
        manifest("test", **split),
    )
    log.info("features: %d train and %d test samples written", train, test)

    return FeaturesSummary(
        events=events.count(),
        rating_events=len(ts),
        train_samples=train,
        test_samples=test,
        item_features=items,
        user_features=users,
        sequences=sequences,
        cutoff=_as_datetime(cutoff_ms),
        newest_event=_as_datetime(newest_ms),
        seconds=round(time.perf_counter() - started, 3),
    )
