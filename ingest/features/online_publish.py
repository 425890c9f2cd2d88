"""Publish the latest features to the online store: user profiles, seen sets, item popularity."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import MissingDataError
from core.filesystem import StoragePath
from core.online_store import SEEN_EVENTS, OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import fingerprint, parquet_dataset, read_manifest
from core.tables import USER_FEATURES
from core.writer_lock import writer_lock

log = logging.getLogger(__name__)

# Users per round trip: bounds the profiles and seen lists held at once.
USERS_PER_CHUNK = 5000


def _read(folder: StoragePath, columns: list[str], keep: pc.Expression | None = None) -> pa.Table:
    """Parquet files of a folder (its `_manifest.json` is skipped: pyarrow ignores `_` names)."""
    return parquet_dataset(folder).to_table(columns=columns, filter=keep)


@dataclass(frozen=True)
class SeenItems:
    """Every item each user rated, clicked or viewed (`SEEN_EVENTS`, as live events mark them)
    with the epoch ms of its latest such event, as arrays sorted by user: scales to tens of
    millions."""

    users: np.ndarray
    starts: np.ndarray
    items: np.ndarray
    ts_ms: np.ndarray

    @classmethod
    def from_lake(cls, events: StoragePath) -> SeenItems:
        seen = pc.field("event_type").isin(list(SEEN_EVENTS))
        rows = _read(events, ["user_id", "item_id", "ts"], seen)
        users = rows["user_id"].to_numpy()
        ts_ms = rows["ts"].cast(pa.int64()).to_numpy()
        # By user, then time: a re-rated item's last occurrence carries its latest time.
        order = np.lexsort((ts_ms, users))
        unique_users, starts = np.unique(users[order], return_index=True)
        return cls(unique_users, starts, rows["item_id"].to_numpy()[order], ts_ms[order])

    def of(self, user_id: int) -> list[tuple[int, int]]:
        """(item, epoch ms of its latest rating or click) of every item the user has seen."""
        pos = int(np.searchsorted(self.users, user_id))
        if pos == len(self.users) or self.users[pos] != user_id:
            return []
        end = self.starts[pos + 1] if pos + 1 < len(self.starts) else len(self.items)
        latest = dict(
            zip(
                self.items[self.starts[pos] : end].tolist(),
                self.ts_ms[self.starts[pos] : end].tolist(),
                strict=True,
            )
        )
        return list(latest.items())


def publish_online(settings: Settings, paths: StarlingPaths, store: OnlineStore) -> int:
    """Publish the user profiles, seen sets and popularity, merged with the live state that
    events posted since the lake was read wrote (`OnlineStore.publish_users`); returns the
    users written.

    The snapshot key records the fingerprint of the user features published, so serving can
    tell which features build it reads. `settings` keeps the signature every job step shares.
    """
    for folder in (paths.user_features, paths.item_features):
        if read_manifest(folder) is None:
            raise MissingDataError(f"{folder} has no committed features: run `starling features`")
    users = _read(paths.user_features, USER_FEATURES.names).sort_by("user_id")
    with writer_lock(paths.events):  # one lake version, while the EventLander commits
        seen = SeenItems.from_lake(paths.events)
    written = 0
    for offset in range(0, users.num_rows, USERS_PER_CHUNK):
        rows = users.slice(offset, USERS_PER_CHUNK).to_pylist()
        profiles = [UserProfile(**row) for row in rows]
        written += store.publish_users(profiles, {p.user_id: seen.of(p.user_id) for p in profiles})
    items = _read(
        paths.item_features, ["item_id", "item_popularity"], pc.field("item_rating_count") > 0
    )
    scores = zip(items["item_id"].to_pylist(), items["item_popularity"].to_pylist(), strict=True)
    store.publish_popularity(dict(scores))
    store.set_snapshot(fingerprint(paths.user_features))
    log.info("online store: %d user profiles, %d popular items", written, items.num_rows)
    return written
