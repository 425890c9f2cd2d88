import numpy as np

from recall_service.training.pairs import negative_table, skipgram_pairs


def _pairs(sequences: list[list[int]], window: int) -> set[tuple[int, int]]:
    items = np.asarray([i for s in sequences for i in s], dtype=np.int64)
    lengths = np.asarray([len(s) for s in sequences], dtype=np.int64)
    centers, contexts = skipgram_pairs(items, lengths, window)
    assert len(centers) == len(contexts)
    pairs = list(zip(centers.tolist(), contexts.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "no pair is emitted twice"
    return set(pairs)


def test_window_one_pairs_neighbours_both_ways_within_a_sequence() -> None:
    assert _pairs([[10, 20, 30], [40, 50]], window=1) == {
        (10, 20),
        (20, 10),
        (20, 30),
        (30, 20),
        (40, 50),
        (50, 40),
    }


def test_window_two_adds_items_two_apart_but_never_crosses_sequences() -> None:
    pairs = _pairs([[10, 20, 30], [40, 50]], window=2)
    assert pairs == _pairs([[10, 20, 30], [40, 50]], window=1) | {(10, 30), (30, 10)}
    assert (30, 40) not in pairs and (20, 40) not in pairs


def test_a_repeated_item_is_not_paired_with_itself() -> None:
    assert _pairs([[7, 7, 8]], window=1) == {(7, 8), (8, 7)}


def test_no_pairs_from_single_item_sequences() -> None:
    assert _pairs([[1], [2]], window=3) == set()


def test_negative_table_follows_unigram_to_the_three_quarters() -> None:
    counts = np.array([1, 16, 81, 0])
    table = negative_table(counts, size=100_000)
    shares = np.bincount(table, minlength=4) / len(table)
    expected = np.array([1, 8, 27, 0]) / 36
    np.testing.assert_allclose(shares, expected, atol=1e-3)
