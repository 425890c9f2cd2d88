"""Exact inner-product search over item vectors held in memory: the offline twin of VectorIndex.

It satisfies routes.ItemIndex, so offline evaluation runs the very route functions serving runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recall_service.index.files import ITEM_ATTRIBUTES, ITEM_IDS, VECTORS
from recall_service.index.item_attributes import ItemAttributes, ItemFilter


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
        keep = self.attributes.mask(where) if where is not None else None
        k = min(k, len(self.ids) if keep is None else int(keep.sum()))
        if k <= 0:
            return [[] for _ in range(len(queries))]
        scores = queries @ self.matrix.T
        if keep is not None:
            scores[:, ~keep] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        results = []
        for row, candidates in enumerate(top):
            ordered = candidates[np.argsort(-scores[row, candidates], kind="stable")]
            # Whole-array conversions: a Python int and float per element cost a third of a
            # search at a few hundred hits.
            ids, values = self.ids[ordered].tolist(), scores[row, ordered].tolist()
            results.append(list(zip(ids, values, strict=True)))
        return results
