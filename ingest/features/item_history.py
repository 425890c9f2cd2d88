"""Every rated item's ratings in time order: its item side as of any moment, for any row.

A rated sample finds its item side in its own item's window (`with_item_side`); a sampled
negative pairs a user's moment with an item it has no row of, so the parts look it up here. The
figures are `point_in_time.item_side` over windows [first rating of the item, first rating at or
after the moment), the very windows and definitions rated rows get.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ingest.features.point_in_time import entities, entity_order, item_side


@dataclass(frozen=True)
class ItemHistory:
    """The ratings of every rated item, sorted by (item, ts).

    `item_ids`: the rated items, ascending; an item's rank is its index here. `bounds`: item
    rank j owns rows [bounds[j], bounds[j + 1]) of `ts_ms`. `sides`: ITEM_SIDE rows; item j as of
    just before its row k (k in [bounds[j], bounds[j + 1]], the last one meaning after all of its
    ratings) sits at row k + j.
    """

    item_ids: np.ndarray
    bounds: np.ndarray
    ts_ms: np.ndarray
    sides: pa.Table

    @property
    def rating_counts(self) -> np.ndarray:
        """Ratings of each item rank over the whole data."""
        return np.diff(self.bounds)

    def ranks(self, item_ids: np.ndarray) -> np.ndarray:
        """Ranks of rated items (every id must be one of `item_ids`)."""
        return np.searchsorted(self.item_ids, item_ids)

    def sides_before(self, ranks: np.ndarray, ts_ms: np.ndarray) -> pa.Table:
        """ITEM_SIDE of item rank ranks[i] over its ratings with ts < ts_ms[i], row by row."""
        lo, hi = self.bounds[ranks], self.bounds[ranks + 1]
        first_not_before = _first_at_or_after(self.ts_ms, lo, hi, ts_ms)
        return self.sides.take(pa.array(first_not_before + ranks))


def _first_at_or_after(
    ts_ms: np.ndarray, lo: np.ndarray, hi: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """For each i, the first row in [lo[i], hi[i]) of ascending ts_ms[lo[i]:hi[i]] with
    ts_ms >= t[i], or hi[i] when there is none: a bisection of all queries at once."""
    lo, hi = lo.copy(), hi.copy()
    last = max(len(ts_ms) - 1, 0)
    while (open_ := lo < hi).any():
        mid = (lo + hi) // 2
        before = open_ & (ts_ms[np.minimum(mid, last)] < t)
        lo = np.where(before, mid + 1, lo)
        hi = np.where(open_ & ~before, mid, hi)
    return lo


def item_history(ratings: pa.Table) -> ItemHistory:
    """The ItemHistory of rating events (item_id, ts_ms and rating columns)."""
    order = entity_order(ratings["item_id"].to_numpy(), ratings["ts_ms"].to_numpy())
    items = ratings["item_id"].to_numpy()[order]
    ts_ms = ratings["ts_ms"].to_numpy()[order]
    firsts = entities(items, ts_ms).firsts
    bounds = np.append(firsts, len(items)).astype(np.int64)
    counts = np.diff(bounds)
    # One window per (item, k): item j's windows all start at its first row and end at each k
    # in [bounds[j], bounds[j + 1]]; window_moments wants them grouped by item, in row order.
    lo = np.repeat(bounds[:-1], counts + 1)
    within = np.arange(len(lo)) - np.repeat(np.cumsum(counts + 1) - (counts + 1), counts + 1)
    sides = item_side(ratings["rating"].to_numpy()[order], lo, lo + within)
    return ItemHistory(
        item_ids=items[firsts].astype(np.int64),
        bounds=bounds,
        ts_ms=ts_ms.astype(np.int64),
        sides=pa.table(sides),
    )
