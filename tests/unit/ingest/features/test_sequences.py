"""Train-period positive sequences of the hand case (see tests/support/features_hand_case.py)."""

from __future__ import annotations

import pyarrow as pa

from core.data_settings import DataSettings
from core.tables import SEQUENCES
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.sequences import user_sequences
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()


def _sequences(cutoff_ms: int) -> dict[int, list[int]]:
    ratings = interaction_rows(
        hand_events(), catalog_attributes(hand_items()), DATA.implicit_rating
    )
    table = user_sequences(ratings, cutoff_ms=cutoff_ms, label_threshold=3.5)
    assert table.schema == SEQUENCES
    return {row["user_id"]: row["items"] for row in table.to_pylist()}


def test_positives_before_the_cutoff_in_time_order() -> None:
    # User 1: e1 (10), e4 (30), e8 (20); e2 and e5 are negatives, e10 is after the cutoff.
    # User 2: e3 (10), e6 (30), e7 (20); e9 is a negative.
    assert _sequences(cutoff_ms=520) == {1: [10, 30, 20], 2: [10, 30, 20]}


def test_the_cutoff_itself_belongs_to_test() -> None:
    assert _sequences(cutoff_ms=500) == {1: [10, 30], 2: [10, 30, 20]}


def test_users_with_a_single_positive_get_no_sequence() -> None:
    assert _sequences(cutoff_ms=250) == {}


def test_empty_block() -> None:
    empty = interaction_rows(
        hand_events().slice(0, 0), catalog_attributes(hand_items()), DATA.implicit_rating
    )
    assert user_sequences(empty, cutoff_ms=0, label_threshold=3.5) == pa.table(
        {"user_id": pa.array([], pa.int64()), "items": pa.array([], pa.list_(pa.int64()))}
    ).cast(SEQUENCES)
