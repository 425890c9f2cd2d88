"""The lake's `event_id`: a 64-bit key per event, from the source's own id or its content.

A key is an int64, not the id text: a text id such as "rating:123:456:964982703000" is longer
than the CSV line it came from, and carrying, sorting and writing it was most of an ingest's
cost. Two different events get the same key with probability 2^-64 per pair (at a billion
events, about a 3 % chance that one pair in the whole lake collides and lands once); events that
differ in a single field never collide (each mixing step below is a bijection).

Text ids go through SipHash-2-4 with a fixed key (pandas' implementation); content keys mix the
event type's text key with user, item, time and the tag's text key by the splitmix64 finalizer.
Both are pinned by tests: a change would make re-ingested events look new.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SIPHASH_KEY = "starling-events!"
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def text_keys(ids: pa.Array | Sequence[str]) -> np.ndarray:
    """int64 keys of text ids (a null or missing text counts as "")."""
    values = pa.array(ids, pa.string()) if not isinstance(ids, pa.Array) else ids
    text = pc.fill_null(values.cast(pa.string()), "").to_numpy(zero_copy_only=False)
    keys = pd.util.hash_array(text, hash_key=SIPHASH_KEY, categorize=True)
    return keys.view(np.int64)


def text_key(event_id: str) -> int:
    """The int64 key of one text id."""
    return int(text_keys([event_id])[0])


def _mix(state: np.ndarray, value: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer of `state ^ value`, on uint64 (wrapping arithmetic)."""
    x = state ^ value
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return x ^ (x >> np.uint64(31))


def _distinct_text_keys(values: pa.Array) -> np.ndarray:
    """uint64 text keys of a low-cardinality text column (plain or dictionary-encoded, no
    nulls), hashed once per distinct value."""
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(values)
    keys = text_keys(values.dictionary).view(np.uint64)
    return keys[values.indices.to_numpy(zero_copy_only=False)]


def content_keys(
    event_type: pa.Array,
    user_id: np.ndarray,
    item_id: np.ndarray,
    ts_ms: np.ndarray,
    tag: pa.Array | None = None,
) -> np.ndarray:
    """int64 keys of events without an id of their own: type, user, item, time and tag text.

    `event_type` and `tag` are text columns (plain or dictionary-encoded), nulls counting as "";
    the others are int64 arrays.
    """
    with np.errstate(over="ignore"):
        state = _distinct_text_keys(pc.fill_null(event_type, ""))
        for part in (user_id, item_id, ts_ms):
            state = _mix(state, np.asarray(part, dtype=np.int64).view(np.uint64))
        if tag is not None:
            state = _mix(state, _distinct_text_keys(pc.fill_null(tag, "")))
    return state.view(np.int64)


def mixed_keys(keys: np.ndarray, *values: np.ndarray | int) -> np.ndarray:
    """int64 keys derived from int64 `keys` by mixing in further int64 values in turn.

    For rows made from an event (a negative sampled for it, a random draw of it): the result
    depends on the event's key and the values alone, not on which rows are computed together.
    """
    with np.errstate(over="ignore"):
        state = np.asarray(keys, dtype=np.int64).view(np.uint64)
        for value in values:
            mixed = np.broadcast_to(np.asarray(value, dtype=np.int64), state.shape)
            state = _mix(state, mixed.view(np.uint64))
    return state.view(np.int64)
