"""Exact inner-product search over item vectors held in memory: the offline twin of VectorIndex.

It satisfies routes.ItemIndex, so offline evaluation runs the very route functions serving runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from recall_service.index.files import ITEM_ATTRIBUTES, ITEM_IDS, VECTORS
from recall_service.index.item_attributes import ItemAttributes, ItemFilter

_NO_ROWS = np.zeros(0, dtype=np.int64)


class ExactIndex:
    """`ids` (V,) item ids and `vectors` (V, D) L2-normalised rows, searched by inner product.

    `attributes` (aligned with `ids`) serve filtered searches; without them every item has no
    genres and an unknown year.
    """

    def __init__(
        self, ids: np.ndarray, vectors: np.ndarray, attributes: ItemAttributes | None = None
    ) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = np.asarray(vectors, dtype=np.float32)
        self.attributes = attributes or ItemAttributes.unknown(self.ids)
        if not np.array_equal(self.attributes.ids, self.ids):
            raise ValueError("attributes must describe the index's ids in their order")
        self._rows = {int(item): row for row, item in enumerate(self.ids)}

    @classmethod
    def load(cls, version_dir: Path) -> ExactIndex:
        """The vectors (and item attributes, when saved) that a registered recall model version
        keeps next to its Milvus index."""
        attributes = version_dir / ITEM_ATTRIBUTES
        return cls(
            np.load(version_dir / ITEM_IDS),
            np.load(version_dir / VECTORS),
            ItemAttributes.load(attributes) if attributes.is_file() else None,
        )

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {int(i): self.matrix[self._rows[int(i)]] for i in ids if int(i) in self._rows}

    def search(
        self, vectors: np.ndarray, k: int, where: ItemFilter | None = None
    ) -> list[list[tuple[int, float]]]:
        """For each query row (Q, D), up to k (item_id, score) pairs, best first; only items
        that pass `where` when it is given."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        # Seen items are a few hundred rows: leaving them out by row costs microseconds where a
        # mask over the whole catalogue (np.isin) cost a millisecond a search at 62k items.
        dropped = self._rows_of(where.exclude) if where is not None else _NO_ROWS
        available = len(self.ids) - len(dropped)
        if where is not None and where.uses_attributes:
            keep = self.attributes.mask(ItemFilter(genre=where.genre, min_year=where.min_year))
            keep[dropped] = False
            dropped, available = np.flatnonzero(~keep), int(keep.sum())
        k = min(k, available)
        if k <= 0:
            return [[] for _ in range(len(queries))]
        scores = self._scores(queries)
        scores[:, dropped] = -np.inf
        # torch's top-k selects the best k of 62k scores in a fifth of numpy's argpartition's
        # time, and returns them sorted.
        best, positions = torch.topk(torch.from_numpy(scores), k, dim=1)
        # Whole-array conversions: a Python int and float per element cost a third of a
        # search at a few hundred hits.
        return [
            list(zip(self.ids[row].tolist(), values.tolist(), strict=True))
            for row, values in zip(positions.numpy(), best.numpy(), strict=True)
        ]

    def _rows_of(self, items: frozenset[int]) -> np.ndarray:
        """Rows (unique) of the `items` this index holds."""
        rows = self._rows
        return np.fromiter((rows[i] for i in items if i in rows), dtype=np.int64)

    def _scores(self, queries: np.ndarray) -> np.ndarray:
        """Inner products (Q, V), C-ordered. Several queries are multiplied as matrix @
        queries.T: OpenBLAS's queries @ matrix.T packs the whole (V, D) matrix first, which at
        62k x 64 cost three times the multiplication."""
        if len(queries) == 1:
            return (self.matrix @ queries[0])[None, :]
        return np.ascontiguousarray((self.matrix @ queries.T).T)
