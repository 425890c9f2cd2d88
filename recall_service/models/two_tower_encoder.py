"""Turns sample rows and online profiles into the two-tower's input arrays, identically for
training workers, the item export and serving replicas.

The user side reads what both the point-in-time samples and the online profile hold: recent
positive items (newest first), top genres and the rating count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from core.online_store import UserProfile
from core.tables import MAX_ITEM_GENRES, MAX_RECENT_ITEMS, MAX_USER_GENRES

USER_COLUMNS = ("user_recent_items", "user_genres", "user_rating_count")
ITEM_COLUMNS = ("item_id", "item_genres", "release_year")
ENCODER_FILE = "two_tower_encoder.json"
_MIN_STD = 1e-6


class TwoTowerEncoder(BaseModel):
    """Vocabularies and statistics learnt from the positive train rows.

    Row 0 of either vocabulary means padding or unknown; item i of `item_ids` is row i + 1.
    """

    model_config = ConfigDict(frozen=True)

    item_ids: list[int]
    item_counts: list[int]
    genres: list[str]
    log_count_mean: float
    log_count_std: float
    year_mean: float
    year_std: float

    @classmethod
    def fit(cls, rows: pa.Table) -> TwoTowerEncoder:
        """From positive sample rows holding USER_COLUMNS and ITEM_COLUMNS."""
        items, counts = np.unique(rows["item_id"].to_numpy(), return_counts=True)
        genres = set(pc.unique(pc.list_flatten(rows["item_genres"])).to_pylist())
        genres |= set(pc.unique(pc.list_flatten(rows["user_genres"])).to_pylist())
        log_count = np.log1p(rows["user_rating_count"].fill_null(0).to_numpy())
        years = rows["release_year"].drop_null().to_numpy().astype(np.float64)
        return cls(
            item_ids=items.tolist(),
            item_counts=counts.tolist(),
            genres=sorted(g for g in genres if g is not None),
            log_count_mean=float(log_count.mean()) if len(log_count) else 0.0,
            log_count_std=float(log_count.std()) if len(log_count) else 1.0,
            year_mean=float(years.mean()) if len(years) else 0.0,
            year_std=float(years.std()) if len(years) else 1.0,
        )

    @property
    def num_items(self) -> int:
        """Rows of the item embedding table, padding included."""
        return len(self.item_ids) + 1

    @property
    def num_genres(self) -> int:
        return len(self.genres) + 1

    def item_rows(self, item_ids: np.ndarray | pa.Array) -> np.ndarray:
        """Embedding rows of item ids: 0 for an id outside the vocabulary."""
        vocab = pa.array(self.item_ids, pa.int64())
        found = pc.index_in(pa.array(np.asarray(item_ids, dtype=np.int64)), value_set=vocab)
        return found.fill_null(-1).to_numpy().astype(np.int64) + 1

    def log_q(self, rows: np.ndarray) -> np.ndarray:
        """Log of the share of positives each item row takes: its chance to be a batch's
        negative (an unknown row counts as seen once)."""
        counts = np.concatenate([[1], self.item_counts]).astype(np.float64)
        return np.log(counts[rows] / counts[1:].sum()).astype(np.float32)

    def users(self, rows: pa.Table) -> dict[str, np.ndarray]:
        """recent (B, MAX_RECENT_ITEMS), user_genres (B, MAX_USER_GENRES), user_numeric (B, 1)."""
        log_count = np.log1p(rows["user_rating_count"].fill_null(0).to_numpy().astype(np.float64))
        numeric = (log_count - self.log_count_mean) / max(self.log_count_std, _MIN_STD)
        return {
            "recent": _padded(rows["user_recent_items"], MAX_RECENT_ITEMS, self.item_rows),
            "user_genres": _padded(rows["user_genres"], MAX_USER_GENRES, self._genre_rows),
            "user_numeric": numeric.astype(np.float32)[:, None],
        }

    def items(self, rows: pa.Table) -> dict[str, np.ndarray]:
        """item (B,), item_genres (B, MAX_ITEM_GENRES), item_numeric (B, 2): the standardised
        release year (0 when unknown) and whether it is unknown."""
        years = rows["release_year"]
        missing = years.is_null().to_numpy(zero_copy_only=False)
        raw = years.fill_null(self.year_mean).to_numpy().astype(np.float64)
        standard = np.where(missing, 0.0, (raw - self.year_mean) / max(self.year_std, _MIN_STD))
        return {
            "item": self.item_rows(rows["item_id"].to_numpy()),
            "item_genres": _padded(rows["item_genres"], MAX_ITEM_GENRES, self._genre_rows),
            "item_numeric": np.stack([standard, missing.astype(np.float64)], 1).astype(np.float32),
        }

    def training_batch(self, rows: pa.Table) -> dict[str, np.ndarray]:
        """Both sides of positive rows, plus each item's `log_q` (B,)."""
        items = self.items(rows)
        return {**self.users(rows), **items, "log_q": self.log_q(items["item"])}

    def _genre_rows(self, genres: pa.Array) -> np.ndarray:
        found = pc.index_in(genres, value_set=pa.array(self.genres, pa.string()))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1


def profile_table(profile: UserProfile) -> pa.Table:
    """An online profile as a one-row table of USER_COLUMNS."""
    return pa.table(
        {
            "user_recent_items": pa.array([profile.user_recent_items], pa.list_(pa.int64())),
            "user_genres": pa.array([profile.user_genres], pa.list_(pa.string())),
            "user_rating_count": pa.array([profile.user_rating_count], pa.int64()),
        }
    )


def item_table(
    item_ids: Sequence[int], genres: Sequence[list[str]], years: Sequence[int | None]
) -> pa.Table:
    """Items as a table of ITEM_COLUMNS."""
    return pa.table(
        {
            "item_id": pa.array(item_ids, pa.int64()),
            "item_genres": pa.array(genres, pa.list_(pa.string())),
            "release_year": pa.array(years, pa.int32()),
        }
    )


def _padded(
    column: pa.ChunkedArray | pa.Array, length: int, rows_of: Callable[[pa.Array], np.ndarray]
) -> np.ndarray:
    """The first `length` values of each list, mapped to embedding rows by `rows_of`, 0-padded:
    (B, length)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lists = pc.list_slice(column, 0, length)
    sizes = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    values = rows_of(pc.list_flatten(lists))
    out = np.zeros((len(column), length), dtype=np.int64)
    row_of = np.repeat(np.arange(len(column)), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    out[row_of, np.arange(len(values)) - starts] = values
    return out
