"""What offline recall evaluation reads: train-period history and the test period's positives.

Everything a method sees comes from the train period (ratings strictly before the cutoff), so
no test event leaks into a user's history, seen set or popularity.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from core.filesystem import StoragePath
from core.storage import parquet_dataset
from core.tables import MAX_USER_GENRES

_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class TrainPeriod:
    """The train period's ratings as flat arrays, ordered by time."""

    users: np.ndarray
    items: np.ndarray
    ts_ms: np.ndarray
    label: np.ndarray

    def history(self) -> dict[int, list[int]]:
        """Each user's positive items, oldest first."""
        out: dict[int, list[int]] = {}
        positive = self.label == 1
        for user, item in zip(self.users[positive], self.items[positive], strict=True):
            out.setdefault(int(user), []).append(int(item))
        return out

    def seen(self) -> dict[int, set[int]]:
        """Every item each user rated."""
        out: dict[int, set[int]] = {}
        for user, item in zip(self.users, self.items, strict=True):
            out.setdefault(int(user), set()).add(int(item))
        return out

    def counts(self) -> dict[int, float]:
        """All-time rating counts per item (the most-popular baseline)."""
        items, counts = np.unique(self.items, return_counts=True)
        return dict(zip(items.tolist(), counts.astype(float).tolist(), strict=True))

    def decayed_counts(self, half_life_days: float) -> dict[int, float]:
        """Rating counts where a rating `half_life_days` older than the newest one counts half,
        as the features job computes serving popularity."""
        if len(self.ts_ms) == 0:
            return {}
        age_days = (self.ts_ms.max() - self.ts_ms) / _MS_PER_DAY
        weights = np.exp2(-age_days / half_life_days)
        items, inverse = np.unique(self.items, return_inverse=True)
        sums = np.bincount(inverse, weights=weights)
        return dict(zip(items.tolist(), sums.tolist(), strict=True))


def read_train_period(folder: StoragePath) -> TrainPeriod:
    """The SAMPLES rows of the train period (`paths.train_samples`), sorted by time."""
    table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
        columns=["user_id", "item_id", "ts", "label"]
    )
    ts = table["ts"].cast("int64").to_numpy()
    order = np.argsort(ts, kind="stable")
    return TrainPeriod(
        users=table["user_id"].to_numpy()[order].astype(np.int64),
        items=table["item_id"].to_numpy()[order].astype(np.int64),
        ts_ms=ts[order],
        label=table["label"].to_numpy()[order].astype(np.int8),
    )


def read_test_positives(folder: StoragePath, seen: dict[int, set[int]]) -> dict[int, set[int]]:
    """Each test user's positive items of the test period that they had not rated before."""
    table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
        columns=["user_id", "item_id", "label"]
    )
    out: dict[int, set[int]] = {}
    users = table["user_id"].to_numpy()
    items = table["item_id"].to_numpy()
    positive = table["label"].to_numpy() == 1
    for user, item in zip(users[positive], items[positive], strict=True):
        if int(item) not in seen.get(int(user), set()):
            out.setdefault(int(user), set()).add(int(item))
    return out


def read_catalog_genres(folder: StoragePath) -> dict[int, list[str]]:
    """Genres of every catalog item (`paths.items`): static attributes, nothing time-dependent."""
    table = parquet_dataset(folder, exclude_invalid_files=True).to_table(
        columns=["item_id", "genres"]
    )
    return {
        int(item): list(genres or [])
        for item, genres in zip(
            table["item_id"].to_pylist(), table["genres"].to_pylist(), strict=True
        )
    }


def top_genres(
    history: list[int], genres: dict[int, list[str]], k: int = MAX_USER_GENRES
) -> list[str]:
    """The k most frequent genres of a user's positives; ties go by name, as in USER_FEATURES."""
    counts = Counter(g for item in history for g in genres.get(item, []))
    return [g for g, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:k]]
