"""The two-tower's examples: positive train samples with the user's point-in-time features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.filesystem import StoragePath
from core.storage import parquet_dataset
from recall_service.models.two_tower_encoder import ITEM_COLUMNS, USER_COLUMNS

COLUMNS = ("user_id", "ts", *USER_COLUMNS, *ITEM_COLUMNS)


@dataclass(frozen=True)
class PositiveRows:
    """`train` rows to learn from and `held`: each user's last positive (users with two or more),
    whose features are what the user's profile held just before it."""

    train: pa.Table
    held: pa.Table

    @classmethod
    def read(cls, folder: StoragePath) -> PositiveRows:
        """The positive rows of the SAMPLES Parquet files in `folder` (`paths.train_samples`)."""
        table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
            columns=list(COLUMNS), filter=pc.field("label") == 1
        )
        return cls.split(table)

    @classmethod
    def split(cls, rows: pa.Table) -> PositiveRows:
        rows = rows.sort_by([("user_id", "ascending"), ("ts", "ascending")])
        users = rows["user_id"].to_numpy()
        last = np.ones(len(users), dtype=bool)
        last[:-1] = users[:-1] != users[1:]
        first = np.ones(len(users), dtype=bool)
        first[1:] = users[1:] != users[:-1]
        held = last & ~first
        return cls(train=rows.filter(pa.array(~held)), held=rows.filter(pa.array(held)))

    def train_items_of(self, user_ids: np.ndarray) -> list[np.ndarray]:
        """The item ids each of `user_ids` has among the training rows."""
        users = self.train["user_id"].to_numpy()
        items = self.train["item_id"].to_numpy()
        begins = np.searchsorted(users, user_ids, side="left")
        ends = np.searchsorted(users, user_ids, side="right")
        return [items[b:e] for b, e in zip(begins, ends, strict=True)]

    def shuffled_train(self, seed: int) -> pa.Table:
        """Training rows in a seeded random order: samples are stored by time, and a model fed
        one stretch of time after another chases the latest weeks."""
        order = np.random.default_rng(seed).permutation(self.train.num_rows)
        return self.train.take(pa.array(order))
