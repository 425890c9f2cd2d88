"""Impressions as samples: an item a /recommend showed and its user passed over is a negative.

An impression (user u saw item i at t) was acted on when u rated, clicked or viewed i in
[t, t + window]; that action is a sample of its own (a positive, or a low rating), so an
impression acted on adds nothing. One not acted on becomes a label-0 sample as of t: u's
features strictly before t, i's catalog facts and item side strictly before t, the context of t.
Unlike a sampled negative it was not drawn by the popularity sampler, so it is not flagged
`negative` and the log-q correction leaves it alone: it is an observed outcome.

u's features before t are those of u's first interaction at or after t (nothing of u lies in
between), or, after u's last interaction, u's latest features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.context import context_columns
from core.tables import SAMPLES
from ingest.features.item_attributes import epoch_ms, with_catalog
from ingest.features.negatives import ITEM_COLUMNS, NegativeSampler
from ingest.features.point_in_time import USER_SIDE

# The impression columns the features job reads; `ts_ms` as everywhere in the job.
IMPRESSIONS = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
    ]
)


def passed_over(impressions: pa.Table, interactions: pa.Table, window_ms: int) -> pa.Table:
    """The IMPRESSIONS rows whose user did not interact with their item within `window_ms`
    after them (`interactions`: user_id, item_id and ts_ms columns)."""
    if impressions.num_rows == 0:
        return impressions
    shown = impressions.to_pandas().sort_values("ts_ms", kind="stable")
    acted = interactions.select(["user_id", "item_id", "ts_ms"]).to_pandas()
    acted = acted.assign(acted_ms=acted["ts_ms"]).sort_values("ts_ms", kind="stable")
    matched = pd.merge_asof(
        shown,
        acted,
        on="ts_ms",
        by=["user_id", "item_id"],
        direction="forward",
        tolerance=window_ms,
    )
    ignored = matched[matched["acted_ms"].isna()].drop(columns="acted_ms")
    return pa.Table.from_pandas(ignored, schema=IMPRESSIONS, preserve_index=False)


def by_part(ignored: pa.Table, part_users: list[np.ndarray]) -> list[pa.Table]:
    """The rows of `ignored` of each part's users (`part_users`: each part's user ids)."""
    users = ignored["user_id"].to_numpy()
    return [ignored.filter(pa.array(np.isin(users, ids))) for ids in part_users]


def _anchors(samples: pa.Table, ignored: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """For each ignored impression, the row of `samples` whose user side it takes, and
    whether that row is its user's first sample at or after it (else its user's last)."""
    rows = pd.DataFrame(
        {
            "user_id": samples["user_id"].to_numpy(),
            "ts_ms": epoch_ms(samples["ts"]).to_numpy(),
            "row": np.arange(samples.num_rows),
        }
    ).sort_values("ts_ms", kind="stable")
    shown = pd.DataFrame(
        {
            "user_id": ignored["user_id"].to_numpy(),
            "ts_ms": ignored["ts_ms"].to_numpy(),
            "at": np.arange(ignored.num_rows),
        }
    ).sort_values("ts_ms", kind="stable")
    after = pd.merge_asof(shown, rows, on="ts_ms", by="user_id", direction="forward")
    before = pd.merge_asof(shown, rows, on="ts_ms", by="user_id", direction="backward")
    later = after["row"].notna().to_numpy()
    row = np.where(later, after["row"].fillna(-1), before["row"].fillna(-1)).astype(np.int64)
    order = after["at"].to_numpy()
    anchors, is_later = np.empty_like(row), np.empty_like(later)
    anchors[order], is_later[order] = row, later
    return anchors, is_later


def _set(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    field = SAMPLES.field(name)
    return table.set_column(table.schema.get_field_index(name), field, column.cast(field.type))


def impression_samples(
    samples: pa.Table,
    ignored: pa.Table,
    latest_users: pa.Table,
    sampler: NegativeSampler,
    catalog: pa.Table,
) -> pa.Table:
    """SAMPLES rows (label 0) of the `ignored` IMPRESSIONS rows of users who have rated
    `samples` rows (rated SAMPLES rows of whole users); `latest_users` is those users'
    USER_FEATURES. Impressions of users without a sample are left out."""
    users = np.unique(samples["user_id"].to_numpy())
    ignored = ignored.filter(pa.array(np.isin(ignored["user_id"].to_numpy(), users)))
    if ignored.num_rows == 0:
        return SAMPLES.empty_table()
    anchors, is_later = _anchors(samples, ignored)
    rows = samples.take(pa.array(anchors))
    # After a user's last sample, the user side is the user's latest features.
    latest_ids = pd.Index(latest_users["user_id"].to_numpy())
    latest = latest_users.take(pa.array(latest_ids.get_indexer(ignored["user_id"].to_numpy())))
    later = pa.array(is_later)
    for field in USER_SIDE:
        column = pc.if_else(later, rows[field.name], latest[field.name].cast(field.type))
        rows = rows.set_column(rows.schema.get_field_index(field.name), field, column)
    return _with_item_and_moment(rows, ignored, sampler, catalog)


def _with_item_and_moment(
    rows: pa.Table, ignored: pa.Table, sampler: NegativeSampler, catalog: pa.Table
) -> pa.Table:
    """`rows` (one per ignored impression, its user side set) with the impression's id,
    item, moment, label 0, the item's facts and side strictly before the moment, and the
    moment's context."""
    items = ignored["item_id"].to_numpy()
    ts_ms = ignored["ts_ms"].to_numpy()
    count = len(items)
    known = np.isin(items, sampler.history.item_ids)
    ranks = np.where(known, sampler.history.ranks(items), 0)
    sides = sampler.history.sides_before(ranks, ts_ms)
    log_q = np.where(known, sampler.log_q[ranks] if len(sampler.log_q) else 0.0, 0.0)
    facts = with_catalog(pa.table({"item_id": pa.array(items, pa.int64())}), catalog)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "event_id": ignored["event_id"],
        "item_id": ignored["item_id"],
        "ts": pa.array(ts_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "rating": pa.nulls(count, pa.float32()),
        "label": pa.array(np.zeros(count, dtype=np.int8)),
        "negative": pa.array(np.zeros(count, dtype=bool)),
        "sample_logq": pa.array(log_q.astype(np.float32)),
        **{name: facts[name] for name in ITEM_COLUMNS if name in facts.column_names},
        # An item nobody has interacted with yet has no history: an empty item side.
        **{
            name: pc.if_else(pa.array(known), sides[name], _empty(sides[name]))
            for name in ITEM_COLUMNS
            if name in sides.column_names
        },
        **context_columns(ts_ms, rows["user_last_ts"]),
    }
    for name, column in columns.items():
        rows = _set(rows, name, column)
    return rows


def _empty(column: pa.ChunkedArray | pa.Array) -> pa.Scalar:
    """The value an item side column holds without history: 0 (see `point_in_time`)."""
    return pa.scalar(0, column.type)
