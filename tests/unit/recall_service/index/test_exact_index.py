import numpy as np

from recall_service.index.exact import ExactIndex
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import l2_normalise


def test_exact_search_returns_nearest_items_best_first_and_known_vectors() -> None:
    vectors = l2_normalise(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    index = ExactIndex(np.array([7, 8, 9]), vectors)

    hits = index.search(np.array([[1.0, 0.0]]), 2)[0]

    assert [item for item, _ in hits] == [7, 8]
    assert hits[0][1] > hits[1][1]
    assert set(index.vectors([9, 42])) == {9}
    assert len(index.search(np.array([[0.0, 1.0]]), 10)[0]) == 3


def test_filtered_exact_search_only_returns_matching_unexcluded_items() -> None:
    vectors = l2_normalise(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    ids = np.array([7, 8, 9])
    attributes = ItemAttributes(
        ids, [["Comedy"], ["Drama"], ["Comedy"]], np.array([1990, 2001, 2003]), np.zeros(3)
    )
    index = ExactIndex(ids, vectors, attributes)

    comedies = index.search(np.array([[1.0, 0.0]]), 10, ItemFilter(genre="Comedy"))[0]
    recent = index.search(np.array([[1.0, 0.0]]), 10, ItemFilter(min_year=2000))[0]
    unseen = index.search(np.array([[1.0, 0.0]]), 10, ItemFilter(exclude=frozenset({7, 42})))[0]

    assert [item for item, _ in comedies] == [7, 9]
    assert [item for item, _ in recent] == [8, 9]
    assert [item for item, _ in unseen] == [8, 9]
    assert index.search(np.array([[1.0, 0.0]]), 10, ItemFilter(genre="Western")) == [[]]


def test_several_queries_find_what_a_full_sort_finds_without_the_excluded_items() -> None:
    rng = np.random.default_rng(3)
    ids = np.arange(100, 300)
    vectors = l2_normalise(rng.standard_normal((len(ids), 8)))
    genres = [["Drama"] if i % 2 else ["Comedy"] for i in range(len(ids))]
    attributes = ItemAttributes(ids, genres, np.full(len(ids), 2000), np.zeros(len(ids)))
    index = ExactIndex(ids, vectors, attributes)
    queries = rng.standard_normal((3, 8))
    seen = frozenset(int(i) for i in ids[::3])

    for where in (ItemFilter(exclude=seen), ItemFilter(genre="Drama", exclude=seen)):
        hits = index.search(queries, 20, where)

        allowed = [
            row
            for row, item in enumerate(ids)
            if item not in seen and (where.genre is None or where.genre in genres[row])
        ]
        for query, found in zip(queries, hits, strict=True):
            scores = vectors[allowed] @ query
            best = ids[np.array(allowed)[np.argsort(-scores)[:20]]].tolist()
            assert [item for item, _ in found] == best
            assert np.allclose([s for _, s in found], np.sort(scores)[::-1][:20], atol=1e-6)
