import numpy as np
import pytest

from recall_service.index.milvus import l2_normalise
from recall_service.training import validation
from recall_service.training.sequences import ItemSequences
from recall_service.training.validation import next_item_hit_rates
from recall_service.training.vocab import UNKNOWN


def test_hit_rates_credit_the_embedding_when_the_next_item_is_a_neighbour() -> None:
    # Items 0-1 point one way, 2-3 the other; item 3 is the rarest.
    vectors = l2_normalise(np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]]))
    counts = np.array([50, 40, 30, 1])
    history = ItemSequences.from_lists([7, 8, 9], [[2], [0], [UNKNOWN]])

    rates = next_item_hit_rates(
        vectors, counts, history, users=np.array([0, 1, 2]), targets=np.array([3, 2, 1]), k=1
    )

    # User 7 (after item 2) gets item 3 from the embedding but item 0 from popularity; user 8
    # (after item 0) gets item 1 from the embedding and item 1 from popularity, both missing
    # item 2; user 9 has no known history and is not counted.
    assert rates == {"hit_rate": 0.5, "popular_hit_rate": 0.0, "eval_users": 2.0}


def test_many_queries_are_measured_on_a_fixed_random_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validation, "MAX_QUERIES", 50)
    vectors = np.eye(300, dtype=np.float32)
    queries = vectors[:200].copy()
    # Queries 0-99 want their own item (found first), 100-199 the one item they score lowest.
    queries[100:, 299] = -1.0
    targets = np.concatenate([np.arange(100), np.full(100, 299)])
    counts = np.arange(300, 0, -1)
    exclude = [np.array([], dtype=np.int64) for _ in range(200)]

    rates = validation.hit_rates(queries, exclude, targets, vectors, counts, k=10)

    assert rates["eval_users"] == 50
    assert 0.3 < rates["hit_rate"] < 0.7
    assert rates == validation.hit_rates(queries, exclude, targets, vectors, counts, k=10)
