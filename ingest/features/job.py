"""`starling features`: samples, feature tables, sequences and statistics from the lake.

Ray must already be initialised by the caller. Every output folder is written atomically and
carries a manifest whose inputs are the fingerprints of the events and items folders, so
`core.storage.is_fresh(folder, feature_inputs(paths))` tells whether it is up to date.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import ray
from pydantic import BaseModel, Field

from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import OutputManifest, atomic_dir, fingerprint
from core.tables import EVENTS, ITEMS, SAMPLES, SEQUENCES, USER_FEATURES
from core.writer_lock import writer_lock
from ingest.features.feature_io import (
    ROWS_PER_PART,
    commit_parts,
    configure_ray_data,
    event_batches,
    read_impressions,
    read_interactions,
    read_table,
    write_table,
)
from ingest.features.impressions import by_part, passed_over
from ingest.features.interactions import as_interactions
from ingest.features.item_attributes import catalog_attributes
from ingest.features.latest_features import item_features_table, latest_item_stats
from ingest.features.negatives import NegativeSampler, negative_sampler
from ingest.features.point_in_time import with_item_side
from ingest.features.samples import split_cutoff
from ingest.features.stats import (
    build_stats,
    daily_counts,
    daily_distinct,
    rating_counts,
    write_stats,
)
from ingest.features.user_parts import PartFolders, PartWritten, build_part, user_parts
from ingest.lake.versions import check_format

log = logging.getLogger(__name__)


class FeaturesSummary(BaseModel):
    """What one run of the features job produced."""

    events: int = Field(description="events read from the lake, every type")
    rating_events: int = Field(
        description="interactions that count: ratings, and first clicks or views of an item"
    )
    train_samples: int
    test_samples: int
    negative_samples: int = Field(description="sampled negatives among the train and test samples")
    impression_samples: int = Field(
        description="impressions nobody acted on among the train and test samples (label 0)"
    )
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


def _active_users(part: PartWritten) -> pa.Table:
    days = pa.array(list(part.active_users), pa.int64())
    return pa.table({"day": days, "active_users": pa.array(list(part.active_users.values()))})


@ray.remote(num_cpus=1)
def _part_task(ratings: pa.Table, rows: np.ndarray, **kwargs: Any) -> PartWritten:
    """`build_part` on some rows of the shared table of every rating event."""
    return build_part(ratings.take(pa.array(rows)), **kwargs)


def _read_lake(
    settings: Settings, paths: StarlingPaths
) -> tuple[dict[str, str], list[pa.Table], pa.Table, pa.Table]:
    """The inputs' fingerprints, daily event counts, the interactions that count
    (RATING_EVENTS) and the impressions nobody acted on (IMPRESSIONS) of one lake version."""
    # The app's EventLander commits a new lake version every few seconds while events flow:
    # holding the writer lock while reading keeps the fingerprint and the reads on one version.
    with writer_lock(paths.events):
        check_format(paths.events)
        inputs = feature_inputs(paths)
        daily = [daily_counts(b) for b in event_batches(paths.events, ["ts", "event_type"])]
        events = read_interactions(paths.events, EVENTS)
        ratings = as_interactions(events, settings.data.implicit_rating)
        del events
        shown = read_impressions(paths.events)
    window_ms = int(settings.data.impression_window_s * 1000)
    return inputs, daily, ratings, passed_over(shown, ratings, window_ms)


def _parts(
    user_ids: np.ndarray, ignored: pa.Table, rows_per_part: int
) -> list[tuple[np.ndarray, pa.Table]]:
    """Each part's rows of the interactions (`user_parts`) and its users' ignored impressions."""
    parts = user_parts(user_ids, rows_per_part)
    shown = by_part(ignored, [np.unique(user_ids[rows]) for rows in parts])
    return list(zip(parts, shown, strict=True))


def build_features(
    settings: Settings, paths: StarlingPaths, rows_per_part: int = ROWS_PER_PART
) -> FeaturesSummary:
    """Build every output of the features job from `paths.events` and `paths.items`.

    The driver reads the narrow rating events (ids, time, rating) and computes the item side of
    every sample and the item features over all of them at once, sorted arrays and prefix sums.
    The rows then go to the object store once, and one Ray task per part of whole users
    (`rows_per_part` rows or so) adds the catalog facts and the user side and writes that
    part's samples, user features and sequences: no list column is ever shuffled.
    """
    started = time.perf_counter()
    configure_ray_data()
    inputs, daily, ratings, ignored = _read_lake(settings, paths)

    def manifest(step: str, **extra: Any) -> OutputManifest:
        return OutputManifest(step=f"features.{step}", inputs=inputs, extra=extra)

    catalog = catalog_attributes(read_table(paths.items, ITEMS))
    event_count = sum(int(partial["events"].to_numpy().sum()) for partial in daily)
    ts = ratings["ts_ms"].to_numpy()
    rating_count = len(ts)
    cutoff_ms = split_cutoff(ts, settings.data.test_fraction)
    newest_ms = int(ts.max())
    split = {"cutoff": _as_datetime(cutoff_ms).isoformat()}
    log.info("features: %d interactions, test period from %s", len(ts), split["cutoff"])

    ratings = with_item_side(ratings)
    kwargs = {"newest_ts_ms": newest_ms, "half_life_days": settings.data.popularity_half_life_days}
    item_table = item_features_table(catalog, latest_item_stats(ratings, **kwargs))
    items = write_table(item_table, paths.item_features, manifest("items"))
    daily.append(daily_distinct(ratings, "item_id", "active_items"))
    histogram = rating_counts(ratings)
    sampler = negative_sampler(
        ratings,
        settings.data.negatives_per_sample,
        settings.data.negative_popularity_power,
        settings.train.seed,
    )

    parts = _parts(ratings["user_id"].to_numpy(), ignored, rows_per_part)
    shared = ray.put(ratings)
    del ratings, ts
    # Arrow keeps freed buffers for reuse; the parts' workers need that memory more.
    pa.default_memory_pool().release_unused()
    targets = {
        "train": (paths.train_samples, SAMPLES, manifest("train", **split)),
        "test": (paths.test_samples, SAMPLES, manifest("test", **split)),
        "users": (paths.user_features, USER_FEATURES, manifest("users")),
        "sequences": (paths.sequences, SEQUENCES, manifest("sequences", **split)),
    }
    label = settings.data.label_threshold
    rows, written = _write_user_parts(shared, parts, targets, catalog, cutoff_ms, label, sampler)
    del shared, sampler
    log.info("features: %d items and %d parts of users written", items, len(parts))

    daily += [_active_users(part) for part in written]
    counts = item_table["item_rating_count"].to_numpy()
    write_stats(paths.stats, build_stats(daily, histogram, counts), manifest("stats"))
    return FeaturesSummary(
        events=event_count,
        rating_events=rating_count,
        train_samples=rows["train"],
        test_samples=rows["test"],
        negative_samples=rows["negatives"],
        impression_samples=sum(part.impressions for part in written),
        item_features=items,
        user_features=rows["users"],
        sequences=rows["sequences"],
        cutoff=_as_datetime(cutoff_ms),
        newest_event=_as_datetime(newest_ms),
        seconds=round(time.perf_counter() - started, 3),
    )


_Target = tuple[StoragePath, pa.Schema, OutputManifest]


def _write_user_parts(
    shared: ray.ObjectRef,
    parts: list[tuple[np.ndarray, pa.Table]],
    targets: dict[str, _Target],
    catalog: pa.Table,
    cutoff_ms: int,
    label_threshold: float,
    sampler: NegativeSampler,
) -> tuple[dict[str, int], list[PartWritten]]:
    """One Ray task per part of users (its rows of the shared interactions, and its ignored
    impressions) writes its samples, user features and sequences into the four folders of
    `targets`, which are committed together once every part is written; the rows each folder
    got (and "negatives": sampled negatives among the samples, which the sample folders'
    manifests count as rows["negatives"]), and what each part saw."""
    with ExitStack() as stack:
        folders = {name: stack.enter_context(atomic_dir(t[0])) for name, t in targets.items()}
        part_kwargs = {
            "catalog": ray.put(catalog),
            "cutoff_ms": cutoff_ms,
            "label_threshold": label_threshold,
            "sampler": ray.put(sampler),
            "folders": PartFolders(**folders),
        }
        written = ray.get(
            [
                _part_task.remote(
                    shared, rows, name=f"part-{index:05d}", ignored=ignored, **part_kwargs
                )
                for index, (rows, ignored) in enumerate(parts)
            ]
        )
        negatives = {
            "train": sum(part.train_negatives for part in written),
            "test": sum(part.test_negatives for part in written),
        }
        for name, count in negatives.items():
            targets[name][2].rows["negatives"] = count
        rows = {name: commit_parts(folders[name], t[1], t[2]) for name, t in targets.items()}
    return {**rows, "negatives": sum(negatives.values())}, written
