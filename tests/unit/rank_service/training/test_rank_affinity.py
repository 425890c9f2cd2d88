"""The recall affinity of sample rows: point in time, as serving computes it, by the fold bag
that never saw the user."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from core.feature_schema import RECALL_AFFINITY
from core.history_embeddings import AffinitySource, HistoryEmbeddings
from rank_service.training.affinity import UserStates, catalogue_affinity, with_affinity

ITEMS = np.arange(1, 9)


def _bag(
    cap: int = 200, half_life: float = 2.0, inputs: np.ndarray | None = None
) -> HistoryEmbeddings:
    eye = np.eye(8, dtype=np.float32)
    return HistoryEmbeddings(
        inputs=eye if inputs is None else inputs,
        outputs=eye,
        item_ids=ITEMS,
        cap=cap,
        half_life=half_life,
        model="item_bag:v1",
    )


def _samples(rows: list[tuple[int, int, int, bool]]) -> pa.Table:
    """(user, item, ts ms, sampled negative) rows."""
    users, items, ts, negative = zip(*rows, strict=True)
    return pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array(items, pa.int64()),
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "negative": pa.array(negative),
        }
    )


def test_a_rows_affinity_uses_only_ratings_strictly_before_it_weighted_as_serving_weighs() -> None:
    bag = _bag()
    history = _samples([(1, 1, 10, False), (1, 2, 20, False), (1, 3, 30, False), (1, 5, 25, True)])
    rows = _samples([(1, 4, 10, False), (1, 2, 25, True), (1, 3, 30, False), (1, 3, 31, False)])
    scored = with_affinity(rows, AffinitySource("item_bag:v1", [bag]), history)
    values = scored.column(RECALL_AFFINITY).to_pylist()
    # At 10 nothing came before; at 25 and 30 items 2 then 1 (newest first); the sampled
    # negative item 5 at 25 is no history.
    assert values[0] is None
    expected = bag.affinity(bag.vector([2, 1]), [2])[0]
    assert values[1] == pytest.approx(expected)
    assert values[2] == pytest.approx(bag.affinity(bag.vector([2, 1]), [3])[0])
    assert values[3] == pytest.approx(bag.affinity(bag.vector([3, 2, 1]), [3])[0])


def test_the_state_under_the_cap_is_serving_s_capped_vector() -> None:
    rng = np.random.default_rng(0)
    bag = _bag(cap=3, half_life=1.5, inputs=rng.normal(size=(8, 8)).astype(np.float32))
    history = _samples([(9, item, 10 * n, False) for n, item in enumerate([5, 1, 7, 2, 8, 3])])
    states = UserStates(bag, history)
    got = states.at(np.array([9]), np.array([1000]))[0]
    assert got == pytest.approx(bag.vector([3, 8, 2, 7, 1, 5]), abs=1e-5)


def test_each_user_is_scored_by_the_fold_bag_that_never_saw_them() -> None:
    plain = _bag()
    swapped = _bag(inputs=np.eye(8, dtype=np.float32)[[1, 0, *range(2, 8)]])
    source = AffinitySource("item_bag:v1", [swapped, plain])  # fold 0: even user ids
    history = _samples([(4, 1, 1, False), (7, 1, 1, False)])
    rows = _samples([(4, 2, 5, False), (7, 2, 5, False)])
    assert with_affinity(rows, source, history).column(RECALL_AFFINITY).to_pylist() == [1.0, 0.0]
    per_user = catalogue_affinity(
        source, history, np.array([4, 7, 8]), np.array([5, 5, 5]), ITEMS[:3]
    )
    assert per_user == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], None]


def test_without_a_source_the_column_is_null() -> None:
    rows = _samples([(1, 1, 5, False)])
    assert with_affinity(rows, None, rows).column(RECALL_AFFINITY).null_count == 1
