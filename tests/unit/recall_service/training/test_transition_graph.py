import itertools

import numpy as np

from recall_service.training.transition_graph import TransitionGraph


def _graph(sequences: list[list[int]], num_items: int) -> TransitionGraph:
    items = np.asarray([i for s in sequences for i in s], dtype=np.int64)
    lengths = np.asarray([len(s) for s in sequences], dtype=np.int64)
    return TransitionGraph.from_sequences(items, lengths, num_items)


# Item 1 follows 0 three times; 2 follows 1 twice and 3 once; 1 -> 1 is a repeat, not an edge;
# no edge crosses from one sequence (ending in 2) to the next (starting with 0).
HAND = [[0, 1, 2], [0, 1, 1, 2], [0, 1, 3], [3, 0]]


def test_edges_weigh_how_often_an_item_directly_follows_another() -> None:
    graph = _graph(HAND, num_items=5)

    assert graph.successors(0) == {1: 1.0}
    assert graph.successors(1) == {2: 2 / 3, 3: 1 / 3}
    assert graph.successors(3) == {0: 1.0}
    assert graph.successors(2) == {} and graph.successors(4) == {}
    assert graph.sources().tolist() == [0, 1, 3]


def test_walks_follow_edges_in_proportion_to_their_weights_and_stop_at_dead_ends() -> None:
    graph = _graph(HAND, num_items=5)
    starts = np.zeros(6000, dtype=np.int64)

    walks = graph.walks(starts, length=6, rng=np.random.default_rng(0))

    sequences = [walks.sequence(u).tolist() for u in range(len(starts))]
    edges = {(0, 1), (1, 2), (1, 3), (3, 0)}
    for walk in sequences:
        assert walk[0] == 0
        assert all(step in edges for step in itertools.pairwise(walk))
        # 2 has no successor, so a walk only ends early there.
        assert len(walk) == 6 or walk[-1] == 2
    second_steps = np.array([walk[2] for walk in sequences])
    assert abs((second_steps == 2).mean() - 2 / 3) < 0.03
    assert walks.lengths.sum() == len(walks.items)


def test_walks_are_seeded() -> None:
    graph = _graph(HAND, num_items=5)
    starts = np.repeat(graph.sources(), 3)

    first = graph.walks(starts, 8, np.random.default_rng(7))
    again = graph.walks(starts, 8, np.random.default_rng(7))

    assert first.items.tolist() == again.items.tolist()
