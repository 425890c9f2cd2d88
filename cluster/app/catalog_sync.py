"""Keeps a Gateway replica's catalogue in step with the entries any replica put online."""

from __future__ import annotations

import time
from collections.abc import Callable

from cluster.app.catalog import Catalog
from core.catalog_follower import CatalogFollower
from core.online_catalog import ItemEntry, OnlineCatalog


class CatalogSync:
    """`current()` is the catalogue with every entry put online (`PUT /items` on any replica),
    checked at most once every `every_s`."""

    def __init__(
        self,
        catalog: Catalog,
        online: OnlineCatalog,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self._follower = CatalogFollower(online, self._put, every_s, clock)

    def current(self) -> Catalog:
        self._follower.poll()
        return self.catalog

    def _put(self, changed: dict[int, ItemEntry]) -> None:
        for item_id, entry in changed.items():
            self.catalog.put(item_id, entry)
