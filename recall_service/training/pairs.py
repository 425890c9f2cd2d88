"""Skip-gram training examples: (center, context) pairs and the negative sampling table."""

from __future__ import annotations

import numpy as np

NEGATIVE_POWER = 0.75
TABLE_SIZE = 1_000_000


def skipgram_pairs(
    items: np.ndarray, lengths: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every (center, context) of two positions at most `window` apart in the same sequence.

    `items` holds the sequences end to end, `lengths` their lengths. Both directions are
    emitted; a pair of an item with itself (a repeated item) is dropped.
    """
    sequence_of = np.repeat(np.arange(len(lengths)), lengths)
    centers: list[np.ndarray] = []
    contexts: list[np.ndarray] = []
    for distance in range(1, window + 1):
        same = sequence_of[:-distance] == sequence_of[distance:]
        same &= items[:-distance] != items[distance:]
        left, right = items[:-distance][same], items[distance:][same]
        centers += [left, right]
        contexts += [right, left]
    if not centers:
        return np.empty(0, dtype=items.dtype), np.empty(0, dtype=items.dtype)
    return np.concatenate(centers), np.concatenate(contexts)


def negative_table(
    counts: np.ndarray, size: int = TABLE_SIZE, power: float = NEGATIVE_POWER
) -> np.ndarray:
    """A table of item indices in which index i fills a share proportional to counts[i]**power.

    Drawing uniform positions from it samples word2vec's smoothed unigram noise distribution.
    """
    weights = np.asarray(counts, dtype=np.float64) ** power
    cumulative = np.cumsum(weights) / weights.sum()
    positions = (np.arange(size) + 0.5) / size
    table = np.searchsorted(cumulative, positions, side="right")
    return np.minimum(table, len(counts) - 1).astype(np.int64)
