"""Keeps a Gateway replica's catalogue in step with the entries any replica put online."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from cluster.app.catalog import Catalog
from core.online_catalog import OnlineCatalog

log = logging.getLogger(__name__)


class CatalogSync:
    """`current()` is the catalogue with every entry put online (`PUT /items` on any replica):
    at most once every `every_s` it reads Redis's version counter, and the entries put since
    the version it read last when the counter moved."""

    def __init__(
        self,
        catalog: Catalog,
        online: OnlineCatalog,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.online = online
        self.every_s = every_s
        self.clock = clock
        self._checked = float("-inf")
        self._version = 0

    def current(self) -> Catalog:
        now = self.clock()
        if now - self._checked >= self.every_s:
            self._checked = now
            try:
                self._sync()
            except redis.RedisError:
                # Redis down: the entries known so far serve; the next check catches up.
                log.warning("catalogue not synced: Redis unreachable")
        return self.catalog

    def _sync(self) -> None:
        if self.online.version() != self._version:
            self._version, changed = self.online.changed_since(self._version)
            for item_id, entry in changed.items():
                self.catalog.put(item_id, entry)
