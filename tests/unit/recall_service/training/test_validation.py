import numpy as np

from recall_service.index.milvus import l2_normalise
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
