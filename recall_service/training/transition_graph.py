"""DeepWalk's item transition graph and the random walks taken on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recall_service.training.sequences import ItemSequences

_NO_ITEM = -1


@dataclass(frozen=True)
class TransitionGraph:
    """Directed graph over vocabulary rows 0..V-1 in CSR form.

    The edge a -> b weighs how often b directly follows a in a user's sequence; the edges of node
    a are `targets[indptr[a]:indptr[a + 1]]` with `weights` alongside. A walk at a moves to b with
    probability weight(a -> b) / (sum of a's out-weights).
    """

    indptr: np.ndarray
    targets: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_sequences(
        cls, items: np.ndarray, lengths: np.ndarray, num_items: int
    ) -> TransitionGraph:
        """From sequences end to end in `items` (rows < `num_items`), `lengths` long each.

        A repeated item (a -> a) adds no edge, as skip-gram drops an item paired with itself.
        """
        items = np.asarray(items, dtype=np.int64)
        sequence_of = np.repeat(np.arange(len(lengths)), lengths)
        follows = (sequence_of[:-1] == sequence_of[1:]) & (items[:-1] != items[1:])
        keys = items[:-1][follows] * num_items + items[1:][follows]
        edges, weights = np.unique(keys, return_counts=True)
        sources, targets = np.divmod(edges, num_items)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(sources, minlength=num_items))])
        return cls(indptr.astype(np.int64), targets.astype(np.int64), weights.astype(np.float64))

    @property
    def num_items(self) -> int:
        return len(self.indptr) - 1

    def successors(self, item: int) -> dict[int, float]:
        """Where a walk at `item` goes next, with each step's probability."""
        begin, end = self.indptr[item], self.indptr[item + 1]
        weights = self.weights[begin:end]
        return dict(
            zip(self.targets[begin:end].tolist(), (weights / weights.sum()).tolist(), strict=True)
        )

    def sources(self) -> np.ndarray:
        """Items with at least one outgoing edge, (S,)."""
        return np.flatnonzero(np.diff(self.indptr) > 0)

    def walks(self, starts: np.ndarray, length: int, rng: np.random.Generator) -> ItemSequences:
        """One walk of at most `length` items from each of `starts`; a walk ends early at an item
        with no outgoing edge. All walks advance together, one vectorised step at a time."""
        starts = np.asarray(starts, dtype=np.int64)
        walk = np.full((len(starts), length), _NO_ITEM, dtype=np.int64)
        walk[:, 0] = starts
        cumulative = np.cumsum(self.weights)
        moving = np.arange(len(starts))
        for step in range(1, length):
            node = walk[moving, step - 1]
            begin, end = self.indptr[node], self.indptr[node + 1]
            alive = end > begin
            moving, begin, end = moving[alive], begin[alive], end[alive]
            if len(moving) == 0:
                break
            # A uniform draw within the node's stretch of the global cumulative weights picks
            # an edge in proportion to its weight.
            below = np.where(begin > 0, cumulative[np.maximum(begin - 1, 0)], 0.0)
            draw = below + rng.random(len(moving)) * (cumulative[end - 1] - below)
            edge = np.clip(np.searchsorted(cumulative, draw, side="right"), begin, end - 1)
            walk[moving, step] = self.targets[edge]
        lengths = (walk != _NO_ITEM).sum(axis=1)
        return ItemSequences(
            user_ids=np.arange(len(starts), dtype=np.int64),
            items=walk[walk != _NO_ITEM],
            lengths=lengths.astype(np.int64),
        )
