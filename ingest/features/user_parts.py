"""The user side of the features job, one part of whole users at a time.

The rating events are cut into parts that each hold every event of their users (`user_parts`);
`build_part` turns one part into its samples, latest user features and sequences and writes them
as Parquet files, so memory stays bounded by the part, not by the data set.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from core.filesystem import StoragePath, write_parquet
from core.tables import SAMPLES
from ingest.features.impressions import impression_samples
from ingest.features.item_attributes import with_catalog
from ingest.features.latest_features import latest_user_features
from ingest.features.negatives import NegativeSampler, with_negatives
from ingest.features.point_in_time import sort_by_entity, with_user_side
from ingest.features.samples import in_period, to_samples
from ingest.features.sequences import user_sequences
from ingest.features.stats import daily_distinct


class PartFolders(BaseModel):
    """Where `build_part` writes its files: one folder per output, local or on an object store."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    train: StoragePath
    test: StoragePath
    users: StoragePath
    sequences: StoragePath


class PartWritten(BaseModel):
    """Rows one part wrote to each output (the samples' sampled negatives among them), and its
    users active per day (UTC day number)."""

    train: int
    test: int
    train_negatives: int
    test_negatives: int
    impressions: int = Field(description="samples of impressions nobody acted on")
    users: int
    sequences: int
    active_users: dict[int, int]


def user_parts(user_ids: np.ndarray, rows_per_part: int) -> list[np.ndarray]:
    """Row indices of `user_ids` cut into parts of whole users, about `rows_per_part` rows each.

    A user never straddles two parts; a user with more rows than `rows_per_part` gets a part of
    its own. Parts hold users in id order.
    """
    order = np.argsort(user_ids, kind="stable")
    keys = user_ids[order]
    firsts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if len(keys) else []
    cuts: list[int] = []
    next_cut = rows_per_part
    for first in np.asarray(firsts, dtype=np.int64)[1:].tolist():
        if first >= next_cut:
            cuts.append(first)
            next_cut = first + rows_per_part
    return [part for part in np.split(order, cuts) if len(part)]


def _write(table: pa.Table, folder: StoragePath, name: str) -> int:
    if table.num_rows:
        write_parquet(table, folder / f"{name}.parquet")
    return table.num_rows


def _negatives(samples: pa.Table) -> int:
    return int(np.count_nonzero(samples["negative"].to_numpy()))


def build_part(
    rows: pa.Table,
    catalog: pa.Table,
    cutoff_ms: int,
    label_threshold: float,
    sampler: NegativeSampler,
    folders: PartFolders,
    name: str,
    ignored: pa.Table | None = None,
) -> PartWritten:
    """Samples (interactions, sampled negatives and the `ignored` impressions: IMPRESSIONS
    rows of these users that nobody acted on), latest user features and sequences of `rows`
    (whole users' interactions with their item side) into `folders`, as files called
    `name`.parquet."""
    # Sorted while narrow, so the sorts of the user side find their rows in order.
    rows = with_catalog(sort_by_entity(rows, "user_id"), catalog)
    rated = to_samples(with_user_side(rows, label_threshold), label_threshold)
    latest = latest_user_features(rows, label_threshold)
    samples = with_negatives(rated, sampler, catalog)
    shown = SAMPLES.empty_table()
    if ignored is not None and ignored.num_rows:
        shown = impression_samples(rated, ignored, latest, sampler, catalog)
        samples = pa.concat_tables([samples, shown])
    train = in_period(samples, cutoff_ms, test=False)
    test = in_period(samples, cutoff_ms, test=True)
    active = daily_distinct(rows, "user_id", "active_users")
    return PartWritten(
        train=_write(train, folders.train, name),
        test=_write(test, folders.test, name),
        train_negatives=_negatives(train),
        test_negatives=_negatives(test),
        impressions=shown.num_rows,
        users=_write(latest, folders.users, name),
        sequences=_write(user_sequences(rows, cutoff_ms, label_threshold), folders.sequences, name),
        active_users=dict(zip(*active.to_pydict().values(), strict=True)),
    )
