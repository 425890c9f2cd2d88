"""Catalog facts joined onto rating events: release year and genres.

They are static facts of the catalog, not aggregates of events, so attaching them to every event
leaks nothing about the future.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.tables import MAX_ITEM_GENRES

GENRE_LIST = pa.list_(pa.string())

CATALOG_ATTRIBUTES = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("release_year", pa.int32()),
        pa.field("genres", GENRE_LIST),
        pa.field("item_genres", GENRE_LIST),
    ]
)

# One rating event: the narrow rows the features job moves between processes.
# `ts_ms` is the event time in epoch milliseconds: integers make "strictly before" exact and cheap.
RATING_EVENTS = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("rating", pa.float32(), nullable=False),
    ]
)
_ITEM_FACTS = CATALOG_ATTRIBUTES.remove(CATALOG_ATTRIBUTES.get_field_index("item_id"))
# A rating event with the catalog facts of its item; the input of every feature computation.
RATING_ROWS = pa.schema([*RATING_EVENTS, *_ITEM_FACTS])


def epoch_ms(ts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Timestamps as int64 milliseconds since the epoch, whatever their stored unit."""
    return ts.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())


def _empty_when_null(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    empty = pa.scalar([], type=GENRE_LIST)
    return pc.if_else(pc.is_null(column), empty, column)


def catalog_attributes(items: pa.Table) -> pa.Table:
    """The ITEMS table reduced to CATALOG_ATTRIBUTES, sorted by item_id (one row per item).

    `genres` keeps every genre (user genre preferences count them all); `item_genres` keeps the
    first MAX_ITEM_GENRES, the ranking input. Missing genre lists become empty lists.
    """
    items = items.sort_by("item_id")
    ids = items["item_id"].to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    items = items.filter(pa.array(first))
    genres = _empty_when_null(items["genres"].cast(GENRE_LIST))
    return pa.table(
        {
            "item_id": items["item_id"].cast(pa.int64()),
            "release_year": items["year"].cast(pa.int32()),
            "genres": genres,
            "item_genres": pc.list_slice(genres, 0, MAX_ITEM_GENRES),
        },
        schema=CATALOG_ATTRIBUTES,
    )


def lookup(table: pa.Table, item_ids: np.ndarray) -> pa.Table:
    """Rows of `table` (sorted by a unique item_id) for these ids, in their order.

    Unknown ids get all-null rows.
    """
    known_ids = table["item_id"].to_numpy()
    if len(known_ids) == 0:
        return table.take(pa.nulls(len(item_ids), pa.int64()))
    pos = np.minimum(np.searchsorted(known_ids, item_ids), len(known_ids) - 1)
    found = known_ids[pos] == item_ids
    return table.take(pa.array(pos, mask=~found))


def with_catalog(rows: pa.Table, catalog: pa.Table) -> pa.Table:
    """`rows` (with an item_id column) with the catalog facts of their items appended."""
    attributes = lookup(catalog, rows["item_id"].to_numpy())
    for field in _ITEM_FACTS:
        column = attributes[field.name]
        rows = rows.append_column(
            field, column if field.type != GENRE_LIST else _empty_when_null(column)
        )
    return rows
