"""Features as of strictly before a moment: the one definition behind samples and latest tables.

A block of RATING_ROWS holds whole entities (every event of each user, or of each item). Sorted
by (entity, ts), each query reads a window [lo, hi) of its entity's rows: for a sample, hi is the
first row of the entity at the sample's own timestamp, so an event never sees itself, later
events or events of the same moment; for the features as of the end of the data, hi is the end
of the entity's rows. Both go through the same window functions below, and every window is
computed for a whole block at once from prefix sums (no per-entity Python loop).

Without history, counts are 0, averages and stddevs are 0.0 (not null) and lists are empty:
0.0 is what the online UserProfile holds for a missing value, so training and serving agree, and
the count tells a model that the average means nothing. Stddevs are population stddevs (ddof=0),
so a single rating has stddev 0.0. The release-year statistics skip items without a year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.tables import ITEM_FEATURES, MAX_RECENT_ITEMS, MAX_USER_GENRES, USER_FEATURES
from ingest.item_attributes import RATING_ROWS

USER_SIDE = pa.schema([f for f in USER_FEATURES if f.name != "user_id"])
ITEM_SIDE = pa.schema(
    [ITEM_FEATURES.field(n) for n in ("item_rating_count", "item_avg_rating", "item_rating_stddev")]
)
# The full genre list only feeds the user side: dropping it keeps it out of the item shuffle.
WITH_USER_SIDE = pa.schema([*RATING_ROWS.remove(RATING_ROWS.get_field_index("genres")), *USER_SIDE])
WITH_BOTH_SIDES = pa.schema([*WITH_USER_SIDE, *ITEM_SIDE])


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
    return block.sort_by([(key, "ascending"), ("ts_ms", "ascending"), ("event_id", "ascending")])


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


def window_moments(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and population stddev of the non-NaN `values` in each window [lo, hi)."""
    known = ~np.isnan(values)
    # Centring keeps the running sums of squares small: years near 2000 would lose precision.
    centre = float(np.mean(values[known])) if known.any() else 0.0
    centred = np.where(known, values - centre, 0.0)
    count = window_sums(known.astype(np.int64), lo, hi)
    sums = window_sums(centred, lo, hi)
    squares = window_sums(centred * centred, lo, hi)
    safe = np.maximum(count, 1)
    mean = sums / safe
    std = np.sqrt(np.clip(squares / safe - mean * mean, 0.0, None))
    has = count > 0
    return count, np.where(has, mean + centre, 0.0), np.where(has, std, 0.0)


def _list_array(values: np.ndarray, keep: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """Row i lists values[i, j] for the j where keep[i, j], in column order."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[keep], type=value_type))


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
    counts = np.zeros((len(genres), len(names)), dtype=np.int32)
    if len(names):
        codes = pc.index_in(flat, value_set=names).to_numpy()
        rows = include[parents]
        np.add.at(counts, (parents[rows], codes[rows]), 1)
    window = window_sums(counts, lo, hi)
    # names are sorted, so a stable sort on descending counts breaks ties by name.
    order = np.argsort(-window, axis=1, kind="stable")[:, :k]
    keep = np.take_along_axis(window, order, axis=1) > 0
    return _list_array(names.to_numpy(zero_copy_only=False)[order], keep, pa.string())


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


def user_side(
    history: pa.Table, lo: np.ndarray, hi: np.ndarray, threshold: float
) -> dict[str, pa.Array]:
    """USER_SIDE columns of each window of one or more users' sorted RATING_ROWS."""
    ratings = history["rating"].to_numpy().astype(np.float64)
    years = history["release_year"].cast(pa.float64()).fill_null(np.nan).to_numpy()
    count, avg, std = window_moments(ratings, lo, hi)
    _, year_avg, year_std = window_moments(years, lo, hi)
    # Compared in float32 like the label, so both agree on thresholds such as 3.3.
    positive = history["rating"].to_numpy() >= np.float32(threshold)
    items = history["item_id"].to_numpy()
    return {
        "user_rating_count": pa.array(count, pa.int64()),
        "user_avg_rating": pa.array(avg, pa.float32()),
        "user_rating_stddev": pa.array(std, pa.float32()),
        "user_avg_release_year": pa.array(year_avg, pa.float32()),
        "user_release_year_stddev": pa.array(year_std, pa.float32()),
        "user_genres": window_top_genres(history["genres"], positive, lo, hi),
        "user_recent_items": window_recent(items, positive, lo, hi),
    }


def item_side(history: pa.Table, lo: np.ndarray, hi: np.ndarray) -> dict[str, pa.Array]:
    """ITEM_SIDE columns of each window of one or more items' sorted RATING_ROWS."""
    count, avg, std = window_moments(history["rating"].to_numpy().astype(np.float64), lo, hi)
    return {
        "item_rating_count": pa.array(count, pa.int64()),
        "item_avg_rating": pa.array(avg, pa.float32()),
        "item_rating_stddev": pa.array(std, pa.float32()),
    }


def _with_columns(table: pa.Table, columns: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table.select(schema.names).cast(schema)


def with_user_side(block: pa.Table, threshold: float) -> pa.Table:
    """Whole users' RATING_ROWS, each with its user's features strictly before it."""
    history = sort_by_entity(block, "user_id")
    rows = entities(history["user_id"].to_numpy(), history["ts_ms"].to_numpy())
    columns = user_side(history, rows.start, rows.moment, threshold)
    return _with_columns(history, columns, WITH_USER_SIDE)


def with_item_side(block: pa.Table) -> pa.Table:
    """Whole items' rows, each with its item's rating statistics strictly before it."""
    history = sort_by_entity(block, "item_id")
    rows = entities(history["item_id"].to_numpy(), history["ts_ms"].to_numpy())
    return _with_columns(history, item_side(history, rows.start, rows.moment), WITH_BOTH_SIDES)
