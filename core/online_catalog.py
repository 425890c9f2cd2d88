"""Catalogue entries put online (`PUT /items/{id}`), kept in Redis: every Gateway replica reads
them (a version counter says when to read again) until the next features build knows the item,
and the EventLander lands the pending ones in the lake's items table, where ingest and features
read the catalogue."""

from __future__ import annotations

from typing import Annotated

import redis
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

_ENTRIES = "items:catalog"
_PENDING = "items:catalog:pending"
_VERSION = "items:catalog:version"
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

    def put(self, item_id: int, entry: ItemEntry) -> None:
        raw = entry.model_dump_json()
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(_ENTRIES, str(item_id), raw)
        pipe.hset(_PENDING, str(item_id), raw)
        pipe.incr(_VERSION)
        pipe.execute()

    def version(self) -> int:
        return int(self.client.get(_VERSION) or 0)

    def entries(self) -> dict[int, ItemEntry]:
        """Every entry ever put, by item id (the latest put of each)."""
        return _parse(self.client.hgetall(_ENTRIES))

    def pending(self) -> dict[int, ItemEntry]:
        """The entries the lake does not hold yet."""
        return _parse(self.client.hgetall(_PENDING))

    def landed(self, entries: dict[int, ItemEntry]) -> int:
        """Mark these entries as in the lake; returns how many stopped being pending."""
        if not entries:
            return 0
        args = [part for i, e in entries.items() for part in (str(i), e.model_dump_json())]
        return int(self.client.eval(_LANDED, 1, _PENDING, *args))


def _parse(raw: dict[bytes, bytes]) -> dict[int, ItemEntry]:
    return {int(k): ItemEntry.model_validate_json(v) for k, v in raw.items()}
