"""A clean slate in the session's shared Redis for tests that count what they wrote."""

from __future__ import annotations

import redis


def cleared(redis_url: str, pattern: str) -> redis.Redis:
    """A client of `redis_url` after deleting every key matching `pattern`."""
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(pattern)
    if keys:
        client.delete(*keys)
    return client
