"""The new-arrivals route: items put online (`PUT /items`) that the features build has not
seen yet. They have no vector, no popularity and no co-occurrence, so no other route can
propose them until the next features build and model update; this one does at once."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pyarrow.compute as pc

from core.filesystem import StoragePath
from core.online_catalog import ItemEntry
from core.storage import committed, parquet_dataset


class NewArrivals:
    """The catalogue entries unknown to the loaded item features, newest put last in `_items`
    (a dict keeps insertion order; a re-put moves an item to the end). At most `capacity` are
    kept: past that the oldest arrivals go, as a features build would have caught up on them."""

    def __init__(self, known: Collection[int], capacity: int = 10_000) -> None:
        self.known = frozenset(known)
        self.capacity = capacity
        self._items: dict[int, frozenset[str]] = {}

    @classmethod
    def from_item_features(cls, folder: StoragePath) -> NewArrivals:
        """Every item of the ITEM_FEATURES table is known; none when it is missing."""
        if not committed(folder).is_dir():
            return cls(())
        table = parquet_dataset(folder, exclude_invalid_files=True).to_table(columns=["item_id"])
        return cls(pc.unique(table["item_id"]).to_pylist())

    def add(self, changed: dict[int, ItemEntry]) -> None:
        """Take the entries put online since the last call (a CatalogFollower's `apply`)."""
        for item_id, entry in changed.items():
            if item_id in self.known:
                continue
            self._items.pop(item_id, None)
            self._items[item_id] = frozenset(entry.genres)
        for item_id in list(self._items)[: max(len(self._items) - self.capacity, 0)]:
            del self._items[item_id]

    def __len__(self) -> int:
        return len(self._items)

    def route(
        self, genres: Sequence[str], k: int, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """Up to k unseen arrivals, newest first: only those sharing a genre with `genres`
        (the user's top genres, or the genre being browsed) unless `genres` is empty. Scores
        are ranks mapped into (-2, -1), like the popularity routes'."""
        if k <= 0 or not self._items:
            return []
        wanted = set(genres)
        hits = []
        for item_id in reversed(self._items):
            if item_id in exclude or (wanted and not wanted & self._items[item_id]):
                continue
            hits.append(item_id)
            if len(hits) == k:
                break
        n = len(hits)
        return [(item, -1.0 - (rank + 1) / (n + 1)) for rank, item in enumerate(hits)]
