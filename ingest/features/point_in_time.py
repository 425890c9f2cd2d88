"""Features as of strictly before a moment: the one definition behind samples and latest tables.

A block of RATING_ROWS holds whole entities (every event of each user, or of each item). Sorted
by (entity, ts), each query reads a window [lo, hi) of its entity's rows: for a sample, hi is the
first row of the entity at the sample's own timestamp, so an event never sees itself, later
events or events of the same moment; for the features as of the end of the data, hi is the end
of the entity's rows. Both go through the same window functions below, and every window is
computed for a whole block at once from prefix sums (no per-entity Python loop).

Without history, counts are 0, averages and stddevs are 0.0 (not null) and lists are empty:
0.0 is what the online UserProfile holds for a missing value, so training and serving agree, and
the count tells a model that the average means nothing. The time of the last rating is null
then, as it is in a profile without ratings. Stddevs are population stddevs (ddof=0),
so a single rating has stddev 0.0. The release-year statistics skip items without a year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.labels import positive_mask
from core.tables import ITEM_FEATURES, MAX_RECENT_ITEMS, MAX_USER_GENRES, USER_FEATURES

USER_SIDE = pa.schema([f for f in USER_FEATURES if f.name != "user_id"])
ITEM_SIDE = pa.schema(
    [ITEM_FEATURES.field(n) for n in ("item_rating_count", "item_avg_rating", "item_rating_stddev")]
)


@dataclass(frozen=True)
class Entities:
    """Row layout of a block sorted by (key, ts_ms, event_id), one entry per row.

    `start`/`end`: first row and one past the last row of the row's entity; `moment`: first
    row of the entity with the row's timestamp. `firsts`: the first row of every entity.
    """

    start: np.ndarray
    moment: np.ndarray
    end: np.ndarray
    firsts: np.ndarray


def sort_by_entity(block: pa.Table, key: str) -> pa.Table:
    """Order by entity, then time; event_id breaks ties so every run gives the same order."""
    keys = [(key, "ascending"), ("ts_ms", "ascending"), ("event_id", "ascending")]
    order = pc.sort_indices(block, sort_keys=keys).to_numpy()
    # A block sorted once stays as it is: taking every column again would copy it for nothing.
    if np.array_equal(order, np.arange(len(order))):
        return block
    return block.take(order)


def entity_order(keys: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Row order by (key, ts) for windows that ignore the order of equal moments.

    Cheaper than `sort_by_entity` (no string tie-break): counts and sums over [start, moment)
    or [start, end) are the same whichever way rows of one moment are ordered.
    """
    return np.lexsort((ts, keys))


def entities(keys: np.ndarray, ts: np.ndarray) -> Entities:
    """The Entities layout of rows already sorted by (key, ts)."""
    rows = np.arange(len(keys))
    new_entity = np.ones(len(keys), dtype=bool)
    new_entity[1:] = keys[1:] != keys[:-1]
    new_moment = new_entity.copy()
    new_moment[1:] |= ts[1:] != ts[:-1]
    firsts = np.flatnonzero(new_entity)
    sizes = np.diff(np.append(firsts, len(keys)))
    return Entities(
        start=np.maximum.accumulate(np.where(new_entity, rows, 0)),
        moment=np.maximum.accumulate(np.where(new_moment, rows, 0)),
        end=np.repeat(firsts + sizes, sizes),
        firsts=firsts,
    )


def window_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The sum of values[lo:hi] along the first axis for every window, through prefix sums."""
    prefix = np.zeros((len(values) + 1, *values.shape[1:]), dtype=values.dtype)
    np.cumsum(values, axis=0, out=prefix[1:])
    return prefix[hi] - prefix[lo]


def _running_sums(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Inclusive running sums of the columns of `values` (N, C) that restart at every segment.

    Only a segment's own rows round into its sums, so they do not depend on what else shares
    the block.
    """
    return pd.DataFrame(values).groupby(segment, sort=False).cumsum().to_numpy()


def window_moments(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and population stddev of the non-NaN `values` in each window [lo, hi).

    Every window starts at the first row of its entity (lo, in row order), as all windows here
    do. Values
    are centred on their entity's mean and summed per entity: a window's figures depend on its
    entity's rows alone, exact for a single rating (stddev 0.0) however the rows are blocked.
    """
    if len(values) == 0:
        empty = np.zeros(len(lo))
        return np.zeros(len(lo), dtype=np.int64), empty, empty
    firsts = lo[np.concatenate([[True], lo[1:] != lo[:-1]])]
    sizes = np.diff(np.append(firsts, len(values)))
    segment = np.repeat(np.arange(len(firsts)), sizes)
    known = ~np.isnan(values)
    filled = np.where(known, values, 0.0)
    centre = np.add.reduceat(filled, firsts) / np.maximum(
        np.add.reduceat(known.astype(np.int64), firsts), 1
    )
    centred = np.where(known, values - centre[segment], 0.0)
    running = _running_sums(np.column_stack([known, centred, centred * centred]), segment)
    last = np.maximum(hi - 1, 0)
    has = (hi > lo) & (running[last, 0] > 0)
    count = np.where(has, running[last, 0], 0).astype(np.int64)
    safe = np.maximum(count, 1)
    mean = np.where(has, running[last, 1], 0.0) / safe
    squares = np.where(has, running[last, 2], 0.0) / safe
    std = np.sqrt(np.clip(squares - mean * mean, 0.0, None))
    return count, np.where(has, mean + centre[segment[lo]], 0.0), np.where(has, std, 0.0)


def _list_array(values: np.ndarray, keep: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """Row i lists values[i, j] for the j where keep[i, j], in column order."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[keep], type=value_type))


def _names_list(names: pa.Array, codes: np.ndarray, keep: np.ndarray) -> pa.ListArray:
    """Row i lists names[codes[i, j]] for the j where keep[i, j]; Arrow takes, no Python str."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(codes[keep])))


def window_top_genres(
    genres: pa.ListArray | pa.ChunkedArray,
    include: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    k: int = MAX_USER_GENRES,
) -> pa.ListArray:
    """The k most frequent genres of the included rows in each window; ties go by genre name.

    Memory grows with rows x distinct genres: fine for MovieLens' twenty genres.
    """
    genres = pa.chunked_array([genres]) if isinstance(genres, pa.Array) else genres
    genres = genres.combine_chunks()
    parents = pc.list_parent_indices(genres).to_numpy()
    flat = pc.list_flatten(genres)
    names = pc.unique(flat).sort() if len(flat) else pa.array([], pa.string())
    counts = np.zeros((len(genres), len(names)), dtype=np.int64)
    if len(names):
        codes = pc.index_in(flat, value_set=names).to_numpy()
        rows = include[parents]
        cells = np.bincount(parents[rows] * len(names) + codes[rows], minlength=counts.size)
        counts = cells.reshape(counts.shape)
    window = window_sums(counts, lo, hi)
    # names are sorted, so a stable sort on descending counts breaks ties by name.
    order = np.argsort(-window, axis=1, kind="stable")[:, :k]
    keep = np.take_along_axis(window, order, axis=1) > 0
    return _names_list(names.cast(pa.string()), order, keep)


def window_recent(
    items: np.ndarray,
    include: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    k: int = MAX_RECENT_ITEMS,
) -> pa.ListArray:
    """The last k included items of each window, newest first."""
    included = np.flatnonzero(include)
    first = np.searchsorted(included, lo)
    last = np.searchsorted(included, hi)
    steps = last[:, None] - 1 - np.arange(k)[None, :]
    keep = steps >= first[:, None]
    if not len(included):
        return _list_array(np.zeros_like(steps), keep, pa.int64())
    return _list_array(items[included[np.clip(steps, 0, None)]], keep, pa.int64())


def window_last(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    """The last of values[lo:hi] of each window (row order), null for an empty window."""
    return pa.array(values[np.maximum(hi - 1, 0)], mask=hi <= lo)


def user_side(
    history: pa.Table, lo: np.ndarray, hi: np.ndarray, label_threshold: float
) -> dict[str, pa.Array]:
    """USER_SIDE columns of each window of one or more users' sorted RATING_ROWS."""
    ratings = history["rating"].to_numpy().astype(np.float64)
    years = history["release_year"].cast(pa.float64()).fill_null(np.nan).to_numpy()
    count, avg, std = window_moments(ratings, lo, hi)
    _, year_avg, year_std = window_moments(years, lo, hi)
    positive = positive_mask(history["rating"].to_numpy(), label_threshold)
    items = history["item_id"].to_numpy()
    return {
        "user_rating_count": pa.array(count, pa.int64()),
        "user_avg_rating": pa.array(avg, pa.float32()),
        "user_rating_stddev": pa.array(std, pa.float32()),
        "user_avg_release_year": pa.array(year_avg, pa.float32()),
        "user_release_year_stddev": pa.array(year_std, pa.float32()),
        "user_genres": window_top_genres(history["genres"], positive, lo, hi),
        "user_recent_items": window_recent(items, positive, lo, hi),
        # Rows are sorted by time within a user, so a window's last row is its latest rating.
        "user_last_ts": window_last(history["ts_ms"].to_numpy(), lo, hi),
    }


def item_side(ratings: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, pa.Array]:
    """ITEM_SIDE columns of each window of one or more items' ratings, sorted by (item, ts)."""
    count, avg, std = window_moments(ratings.astype(np.float64), lo, hi)
    return {
        "item_rating_count": pa.array(count, pa.int64()),
        "item_avg_rating": pa.array(avg, pa.float32()),
        "item_rating_stddev": pa.array(std, pa.float32()),
    }


def _with_columns(table: pa.Table, columns: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    for field in schema:
        table = table.append_column(field, columns[field.name].cast(field.type))
    return table


def with_user_side(block: pa.Table, label_threshold: float) -> pa.Table:
    """Whole users' RATING_ROWS sorted by user, each with its user's features strictly before it.

    Other columns of the block (the item side) are kept.
    """
    history = sort_by_entity(block, "user_id")
    rows = entities(history["user_id"].to_numpy(), history["ts_ms"].to_numpy())
    columns = user_side(history, rows.start, rows.moment, label_threshold)
    return _with_columns(history, columns, USER_SIDE)


def with_item_side(block: pa.Table) -> pa.Table:
    """Whole items' rating rows, each with its item's rating statistics strictly before it.

    The block keeps its row order and columns; it needs item_id, ts_ms and rating only.
    """
    order = entity_order(block["item_id"].to_numpy(), block["ts_ms"].to_numpy())
    rows = entities(block["item_id"].to_numpy()[order], block["ts_ms"].to_numpy()[order])
    columns = item_side(block["rating"].to_numpy()[order], rows.start, rows.moment)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    in_block_order = {name: column.take(back) for name, column in columns.items()}
    return _with_columns(block, in_block_order, ITEM_SIDE)
