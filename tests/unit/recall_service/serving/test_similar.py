import numpy as np

from recall_service.index.exact import ExactIndex
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import l2_normalise
from recall_service.serving.similar import similar_items


def _index() -> ExactIndex:
    ids = np.array([1, 2, 3, 4])
    vectors = l2_normalise(np.array([[1.0, 0.0], [0.9, 0.2], [0.7, 0.7], [0.0, 1.0]]))
    attributes = ItemAttributes(
        ids,
        [["Drama"], ["Comedy"], ["Drama"], ["Drama", "Comedy"]],
        np.array([1990, 1980, 2005, 2010]),
        np.zeros(4, dtype=np.float32),
    )
    return ExactIndex(ids, vectors, attributes)


def test_similar_items_are_nearest_first_without_the_item_itself() -> None:
    answer = similar_items(_index(), 1, 2, None, "item2vec:v1")

    assert answer.embedded
    assert [c.item_id for c in answer.items] == [2, 3]
    assert answer.items[0].score > answer.items[1].score
    assert answer.model == "item2vec:v1"


def test_similar_items_keep_to_the_filter() -> None:
    index = _index()
    assert [
        c.item_id for c in similar_items(index, 1, 5, ItemFilter(genre="Drama"), "m").items
    ] == [
        3,
        4,
    ]
    after = similar_items(index, 1, 5, ItemFilter(genre="Comedy", min_year=2000), "m")
    assert [c.item_id for c in after.items] == [4]


def test_an_item_without_a_vector_is_reported_not_embedded() -> None:
    answer = similar_items(_index(), 99, 3, None, "m")
    assert not answer.embedded and answer.items == []
