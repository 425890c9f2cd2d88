"""Item-based collaborative filtering weights: how much having item i in a history speaks for
item j, kept sparse (each item's strongest weights only) so that a catalogue of any size fits a
serving replica."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ItemCFWeights:
    """Row i of a (V, V) sparse matrix W in CSR form: item i's weights towards items
    `indices[indptr[i]:indptr[i + 1]]`. Rows and columns are the item bag's vocabulary rows
    (V items); an item outside the fitted part of the catalogue has an empty row."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray

    @property
    def num_items(self) -> int:
        return len(self.indptr) - 1

    def scores(self, rows: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
        """sum_h row_weights[h] * W[rows[h]], dense (V,): every item's score for a history of
        item `rows` (H,) weighted by `row_weights` (H,)."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        # Positions of every stored weight of the history's rows, in one gather.
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        positions = np.repeat(starts, lengths) + offsets
        return np.bincount(
            self.indices[positions],
            weights=self.weights[positions] * np.repeat(row_weights, lengths),
            minlength=self.num_items,
        )

    def save(self, path: Path) -> None:
        np.savez(path, indptr=self.indptr, indices=self.indices, weights=self.weights)

    @classmethod
    def load(cls, path: Path) -> ItemCFWeights:
        with np.load(path) as files:
            return cls(
                indptr=files["indptr"].astype(np.int64),
                indices=files["indices"].astype(np.int64),
                weights=files["weights"].astype(np.float32),
            )
