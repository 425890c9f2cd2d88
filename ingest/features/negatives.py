"""Sampled negatives: items a user never rated, as label-0 samples of the user's rated moments.

Rated samples alone never show a ranker an item its user passed over. For every rated sample
(the anchor: user u at moment t) the sampler draws `per_sample` items from

    q(i) = n(i)^power / sum_j n(j)^power,  n(i) = ratings of item i in the whole data,

over the items rated at least once, and rejects an item u rated at any time or one the anchor
already drew; rejected draws are drawn again for up to DRAW_ROUNDS rounds, and what is still
rejected then is dropped. A draw is a function of the seed, the anchor's event id, its slot and
its round alone (a counter-based hash, not a stream), so an anchor gets the same negatives
however the users are cut into parts.

A negative copies its anchor's user side and moment and takes its item's side as of strictly
before t, like every sample; each row, rated ones too, carries log q(item).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from core.event_key import mixed_keys, text_key
from core.tables import ITEM_FEATURES, SAMPLES
from ingest.features.item_attributes import epoch_ms, with_catalog
from ingest.features.item_history import ItemHistory, item_history

DRAW_ROUNDS = 5
# Mixed into a negative's event id so that it names neither its anchor nor a lake event.
NEGATIVE_KEY = text_key("sampled-negative")
ITEM_COLUMNS = [f.name for f in ITEM_FEATURES if f.name in SAMPLES.names and f.name != "item_id"]


@dataclass(frozen=True)
class NegativeSampler:
    """q over the rated items of an ItemHistory (`log_q` by item rank), and how many to draw."""

    history: ItemHistory
    log_q: np.ndarray
    cdf: np.ndarray
    per_sample: int
    seed: int


def negative_sampler(
    ratings: pa.Table, per_sample: int, power: float, seed: int
) -> NegativeSampler:
    """The sampler of rating events (item_id, ts_ms and rating columns)."""
    history = item_history(ratings)
    weights = history.rating_counts.astype(np.float64) ** power
    q = weights / weights.sum() if len(weights) else weights
    return NegativeSampler(
        history=history,
        log_q=np.log(q),
        cdf=np.cumsum(q),
        per_sample=per_sample,
        seed=seed,
    )


def _uniforms(sampler: NegativeSampler, anchor_ids: np.ndarray, draw: int) -> np.ndarray:
    """Uniform [0, 1) numbers, one per anchor, for its draw number `draw`: 53 bits of a hash."""
    keys = mixed_keys(anchor_ids, sampler.seed, draw).view(np.uint64)
    return (keys >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _rated_keys(users: np.ndarray, ranks: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted (user index, item rank) pairs as single int64 keys."""
    return np.unique(users.astype(np.int64) * n_items + ranks)


def draw_negatives(
    sampler: NegativeSampler, anchor_ids: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor row, item rank) of every kept negative of the rated rows given by their event
    ids, users and items; the rows must hold every rating of their users. Anchor-major, slot
    order within an anchor."""
    n_items, slots = len(sampler.history.item_ids), sampler.per_sample
    user_index = np.unique(user_ids, return_inverse=True)[1]
    rated = _rated_keys(user_index, sampler.history.ranks(item_ids), n_items)
    chosen = np.full((len(anchor_ids), slots), -1, dtype=np.int64)
    for round_ in range(DRAW_ROUNDS if len(rated) else 0):
        # Slot by slot, so a draw is checked against the slots its anchor already filled.
        for slot in range(slots):
            rows = np.flatnonzero(chosen[:, slot] < 0)
            u = _uniforms(sampler, anchor_ids[rows], round_ * slots + slot)
            drawn = np.minimum(np.searchsorted(sampler.cdf, u, side="right"), n_items - 1)
            keys = user_index[rows] * n_items + drawn
            found = np.minimum(np.searchsorted(rated, keys), len(rated) - 1)
            fresh = (rated[found] != keys) & ~(chosen[rows] == drawn[:, None]).any(axis=1)
            chosen[rows[fresh], slot] = drawn[fresh]
    kept = chosen.ravel() >= 0
    anchors = np.repeat(np.arange(len(anchor_ids)), slots)[kept]
    return anchors, chosen.ravel()[kept]


def _set(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    field = SAMPLES.field(name)
    return table.set_column(table.schema.get_field_index(name), field, column.cast(field.type))


def negative_rows(
    samples: pa.Table,
    anchors: np.ndarray,
    ranks: np.ndarray,
    sampler: NegativeSampler,
    catalog: pa.Table,
) -> pa.Table:
    """SAMPLES rows of the negatives drawn for rows `anchors` of `samples` (rated SAMPLES rows):
    the anchor's user, moment and user side, the drawn item's catalog facts and item side as of
    strictly before that moment."""
    rows = samples.take(pa.array(anchors, pa.int64()))
    items = sampler.history.item_ids[ranks]
    count = len(items)
    facts = with_catalog(pa.table({"item_id": pa.array(items, pa.int64())}), catalog)
    sides = sampler.history.sides_before(ranks, epoch_ms(rows["ts"]).to_numpy())
    anchor_ids = rows["event_id"].to_numpy()
    columns = {
        "event_id": pa.array(mixed_keys(anchor_ids, NEGATIVE_KEY, items)),
        "item_id": pa.array(items),
        "rating": pa.nulls(count, pa.float32()),
        "label": pa.array(np.zeros(count, dtype=np.int8)),
        "negative": pa.array(np.ones(count, dtype=bool)),
        "sample_logq": pa.array(sampler.log_q[ranks].astype(np.float32)),
        **{name: facts[name] for name in ITEM_COLUMNS if name in facts.column_names},
        **{name: sides[name] for name in ITEM_COLUMNS if name in sides.column_names},
    }
    for name, column in columns.items():
        rows = _set(rows, name, column)
    return rows


def with_negatives(samples: pa.Table, sampler: NegativeSampler, catalog: pa.Table) -> pa.Table:
    """Rated SAMPLES rows of whole users with their log q filled in, followed by their sampled
    negatives (none when `sampler.per_sample` is 0)."""
    ranks = sampler.history.ranks(samples["item_id"].to_numpy())
    rated = _set(samples, "sample_logq", pa.array(sampler.log_q[ranks].astype(np.float32)))
    if sampler.per_sample == 0 or samples.num_rows == 0:
        return rated
    anchors, drawn = draw_negatives(
        sampler,
        samples["event_id"].to_numpy(),
        samples["user_id"].to_numpy(),
        samples["item_id"].to_numpy(),
    )
    return pa.concat_tables([rated, negative_rows(samples, anchors, drawn, sampler, catalog)])
