"""Interaction events (ratings, clicks, views) as the rating rows every feature is built from.

A click or a view stands for a rating of `implicit_rating` (`core.labels`). Only the first
interaction of a user with an item counts when it is implicit: a click on an item the user
already rated, viewed or clicked adds nothing, while every rating counts (it says more). The
online store applies the same rule to live events, so a profile built from the lake and one
kept up to date live agree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from core.labels import INTERACTION_TYPES, interaction_ratings
from ingest.features.item_attributes import RATING_EVENTS, epoch_ms, with_catalog


def interaction_filter() -> pds.Expression:
    """The lake filter that keeps interaction events."""
    return pc.field("event_type").isin(list(INTERACTION_TYPES))


def counted(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    ts_ms: np.ndarray,
    event_ids: np.ndarray,
    is_rating: np.ndarray,
) -> np.ndarray:
    """Row indices of the interactions that count, in (user, item, time, event id) order: every
    rating, and an implicit one only when it is its user's first interaction with its item."""
    if is_rating.all():
        # Ratings alone (MovieLens): every row counts, in the order read, without a sort.
        return np.arange(len(is_rating))
    order = np.lexsort((event_ids, ts_ms, item_ids, user_ids))
    users, items = user_ids[order], item_ids[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    return order[first | is_rating[order]]


def as_interactions(events: pa.Table, implicit_rating: float) -> pa.Table:
    """EVENTS columns of interaction events (event_type among them) as RATING_EVENTS: the
    ones that count (`counted`), each with the rating it stands for."""
    ts_ms = epoch_ms(events["ts"])
    keep = counted(
        events["user_id"].to_numpy(),
        events["item_id"].to_numpy(),
        ts_ms.to_numpy(),
        events["event_id"].to_numpy(),
        pc.equal(events["event_type"], "rating").to_numpy(zero_copy_only=False),
    )
    rows = pa.array(keep, pa.int64())
    ratings = interaction_ratings(events["event_type"], events["value"], implicit_rating)
    return pa.table(
        {
            "event_id": events["event_id"].take(rows),
            "user_id": events["user_id"].take(rows),
            "item_id": events["item_id"].take(rows),
            "ts_ms": ts_ms.take(rows),
            "rating": ratings.take(rows),
        },
        schema=RATING_EVENTS,
    )


def interaction_rows(batch: pa.Table, catalog: pa.Table, implicit_rating: float) -> pa.Table:
    """The interaction events of an EVENTS batch (other event types are dropped) as
    RATING_ROWS: counted, with the catalog facts of their items."""
    interactions = batch.filter(pc.is_in(batch["event_type"], pa.array(INTERACTION_TYPES)))
    return with_catalog(as_interactions(interactions, implicit_rating), catalog)
