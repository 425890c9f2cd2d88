import numpy as np

from recall_service.exact_index import ExactIndex
from recall_service.index import l2_normalise


def test_exact_search_returns_nearest_items_best_first_and_known_vectors() -> None:
    vectors = l2_normalise(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    index = ExactIndex(np.array([7, 8, 9]), vectors)

    hits = index.search(np.array([[1.0, 0.0]]), 2)[0]

    assert [item for item, _ in hits] == [7, 8]
    assert hits[0][1] > hits[1][1]
    assert set(index.vectors([9, 42])) == {9}
    assert len(index.search(np.array([[0.0, 1.0]]), 10)[0]) == 3
