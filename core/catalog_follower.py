"""Follows the catalogue entries put online (`PUT /items`) from any process: the Gateway's
catalogue, Recall's new-arrivals route and Rerank's item facts each keep one, so a new item
reaches every stage within a second without a redeploy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from core.online_catalog import ItemEntry, OnlineCatalog

log = logging.getLogger(__name__)

Apply = Callable[[dict[int, ItemEntry]], None]


class CatalogFollower:
    """`poll()` hands `apply` the entries put since the last poll that found a change: at most
    once every `every_s` it reads the catalogue's version counter (one Redis GET), and reads
    entries only when the counter moved."""

    def __init__(
        self,
        online: OnlineCatalog,
        apply: Apply,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.online = online
        self.apply = apply
        self.every_s = every_s
        self.clock = clock
        self._checked = float("-inf")
        self._version = 0

    def poll(self) -> None:
        now = self.clock()
        if now - self._checked < self.every_s:
            return
        self._checked = now
        try:
            if self.online.version() == self._version:
                return
            version, changed = self.online.changed_since(self._version)
        except redis.RedisError:
            # Redis down: what is known so far serves; the next poll catches up.
            log.warning("online catalogue not followed: Redis unreachable")
            return
        self.apply(changed)
        self._version = version
