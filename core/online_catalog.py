"""Catalogue entries put online (`PUT /items/{id}`), kept in Redis: every Gateway replica reads
the ones changed since it last looked (each put takes the next version number and records its
item under it), and the EventLander lands the pending ones in the lake's items table, where
ingest and features read the catalogue."""

from __future__ import annotations

from typing import Annotated

import redis
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

_ENTRIES = "items:catalog"
_PENDING = "items:catalog:pending"
_VERSION = "items:catalog:version"
_CHANGES = "items:catalog:changes"
# The next version and the item changed under it, in one step: a reader that sees the version
# also sees the change.
_PUT = """
local version = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], version, ARGV[1])
return version
"""
# Removes a pending entry only if it is still the value that was landed: a put that came in
# while the lake was being written stays pending for the next round.
_LANDED = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""

Genre = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ItemEntry(BaseModel):
    """Body of `PUT /items/{id}`: what the catalogue shows of an item."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    genres: list[Genre] = Field(default_factory=list, max_length=20)
    year: int | None = Field(None, ge=1870, le=2100, description="release year")


class OnlineCatalog:
    """The online entries on one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def put(self, item_id: int, entry: ItemEntry) -> int:
        """Store the entry; returns the catalogue's version it made."""
        keys = (_ENTRIES, _PENDING, _VERSION, _CHANGES)
        return int(self.client.eval(_PUT, len(keys), *keys, str(item_id), entry.model_dump_json()))

    def version(self) -> int:
        return int(self.client.get(_VERSION) or 0)

    def changed_since(self, version: int) -> tuple[int, dict[int, ItemEntry]]:
        """The catalogue's version now and the entries put after `version` (the latest put of
        each item): a reader pays for what changed, not for every entry ever put."""
        pipe = self.client.pipeline(transaction=True)
        pipe.get(_VERSION)
        pipe.zrangebyscore(_CHANGES, f"({version}", "+inf")
        now, items = pipe.execute()
        if not items:
            return int(now or 0), {}
        raw = self.client.hmget(_ENTRIES, items)
        return int(now or 0), _parse({k: v for k, v in zip(items, raw, strict=True) if v})

    def entries(self) -> dict[int, ItemEntry]:
        """Every entry ever put, by item id (the latest put of each)."""
        return _parse(self.client.hgetall(_ENTRIES))

    def pending(self) -> dict[int, ItemEntry]:
        """The entries the lake does not hold yet."""
        return _parse(self.client.hgetall(_PENDING))

    def pending_count(self) -> int:
        return int(self.client.hlen(_PENDING))

    def landed(self, entries: dict[int, ItemEntry]) -> int:
        """Mark these entries as in the lake; returns how many stopped being pending."""
        if not entries:
            return 0
        args = [part for i, e in entries.items() for part in (str(i), e.model_dump_json())]
        return int(self.client.eval(_LANDED, 1, _PENDING, *args))


def _parse(raw: dict[bytes, bytes]) -> dict[int, ItemEntry]:
    return {int(k): ItemEntry.model_validate_json(v) for k, v in raw.items()}
