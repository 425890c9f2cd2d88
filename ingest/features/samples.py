"""Ranking samples: the time split and the final SAMPLES rows."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.context import context_columns
from core.labels import positive_column
from core.tables import SAMPLES
from ingest.features.item_attributes import epoch_ms


def split_cutoff(ts_ms: np.ndarray, test_fraction: float) -> int:
    """The first millisecond of the test period: the (1 - test_fraction) quantile of event times.

    Events with ts >= cutoff are test samples, so the split is by time and all events of one
    timestamp land on the same side.
    """
    if len(ts_ms) == 0:
        raise ValueError("no ratings, clicks or views in the lake: cannot split samples by time")
    return math.ceil(float(np.quantile(ts_ms, 1.0 - test_fraction)))


def to_samples(batch: pa.Table, label_threshold: float) -> pa.Table:
    """Rows carrying both feature sides (WITH_BOTH_SIDES) as SAMPLES rows with their label and
    the context of their moment (`core.context`)."""
    label = pc.cast(positive_column(batch["rating"], label_threshold), pa.int8())
    rated = batch.num_rows
    batch = (
        batch.append_column("label", label)
        .append_column("negative", pa.array(np.zeros(rated, dtype=bool)))
        .append_column("sample_logq", pa.array(np.zeros(rated, dtype=np.float32)))
    )
    batch = batch.append_column("ts", batch["ts_ms"].cast(pa.timestamp("ms", tz="UTC")))
    context = context_columns(batch["ts_ms"].to_numpy(), batch["user_last_ts"])
    for name, column in context.items():
        batch = batch.append_column(name, column)
    return batch.select(SAMPLES.names).cast(SAMPLES)


def in_period(batch: pa.Table, cutoff_ms: int, test: bool) -> pa.Table:
    """The rows of the test period (ts >= cutoff) or of the train period (ts < cutoff).

    Works on any batch with a `ts_ms` column or a `ts` timestamp column.
    """
    ts = batch["ts_ms"] if "ts_ms" in batch.column_names else epoch_ms(batch["ts"])
    keep = pc.greater_equal(ts, cutoff_ms) if test else pc.less(ts, cutoff_ms)
    return batch.filter(keep)
