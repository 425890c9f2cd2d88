"""Users' chronological positive items, read from the SEQUENCES table into flat numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from core.filesystem import StoragePath
from core.storage import parquet_dataset


@dataclass(frozen=True)
class ItemSequences:
    """All sequences end to end in `items`; sequence u is `lengths[u]` long and belongs to
    `user_ids[u]`. Flat arrays keep millions of ratings cheap to slice."""

    user_ids: np.ndarray
    items: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_lists(cls, user_ids: list[int], sequences: list[list[int]]) -> ItemSequences:
        flat = [item for sequence in sequences for item in sequence]
        return cls(
            user_ids=np.asarray(user_ids, dtype=np.int64),
            items=np.asarray(flat, dtype=np.int64),
            lengths=np.asarray([len(s) for s in sequences], dtype=np.int64),
        )

    @property
    def starts(self) -> np.ndarray:
        """Offset of each sequence's first item in `items`, (U,)."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def sequence(self, u: int) -> np.ndarray:
        start = int(self.starts[u])
        return self.items[start : start + int(self.lengths[u])]

    def hold_out_last(self) -> tuple[ItemSequences, np.ndarray, np.ndarray]:
        """Split off the last item of every sequence with at least two items.

        Returns the shortened sequences, the positions (into user_ids) of the users that lost an
        item, and those items.
        """
        held = np.flatnonzero(self.lengths >= 2)
        last = self.starts[held] + self.lengths[held] - 1
        keep = np.ones(len(self.items), dtype=bool)
        keep[last] = False
        lengths = self.lengths.copy()
        lengths[held] -= 1
        train = ItemSequences(user_ids=self.user_ids, items=self.items[keep], lengths=lengths)
        return train, held, self.items[last]


def read_sequences(folder: StoragePath) -> ItemSequences:
    """Read the SEQUENCES Parquet files of `folder` (other files, like manifests, are skipped)."""
    dataset = parquet_dataset(folder, exclude_invalid_files=True)
    table = dataset.to_table(columns=["user_id", "items"])
    items = table.column("items").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(items), 0)
    return ItemSequences(
        user_ids=table.column("user_id").to_numpy().astype(np.int64),
        items=items.flatten().to_numpy(zero_copy_only=False).astype(np.int64),
        lengths=lengths.to_numpy(zero_copy_only=False).astype(np.int64),
    )
