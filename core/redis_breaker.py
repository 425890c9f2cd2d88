"""Redis for request paths: short timeouts and a circuit breaker.

A hung Redis (a stopped process, a dead network) answers nothing, and redis-py's defaults (a
5 s socket timeout, ten retries) would hold every call for most of a minute, on the event loop
of the replica that made it. A serving client instead waits one short timeout, then trips a
breaker that every connection of the client shares: from then on calls fail at once with
`RedisDown`, without touching the network, until a background probe sees Redis answer again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.online_store import OnlineStore
from core.settings import Settings

log = logging.getLogger(__name__)

# What a down or hung server raises; RedisDown is a ConnectionError too, but never trips.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


class RedisDown(redis.ConnectionError):
    """Redis is known to be unreachable: the call was not tried."""


class Breaker:
    """Open once a call found Redis unreachable; closed again by the first probe that answers.

    `generation` counts recoveries: a connection opened before an outage may be dead (a
    restarted server), so it reconnects before its first use after one.
    """

    def __init__(self, probe: Callable[[], bool], every_s: float) -> None:
        self._probe = probe
        self._every_s = every_s
        self._lock = threading.Lock()
        self._open = False
        self.generation = 0

    @property
    def is_open(self) -> bool:
        return self._open

    def check(self) -> None:
        if self._open:
            raise RedisDown("Redis is unreachable; the next probe checks again")

    def trip(self) -> None:
        with self._lock:
            if self._open:
                return
            self._open = True
        log.warning("Redis unreachable: calls fail fast, probing every %.1f s", self._every_s)
        threading.Thread(target=self._probe_until_back, name="redis-probe", daemon=True).start()

    def _probe_until_back(self) -> None:
        while True:
            time.sleep(self._every_s)
            if self._probe():
                with self._lock:
                    self.generation += 1
                    self._open = False
                log.warning("Redis answers again")
                return


class GuardedConnection(redis.Connection):
    """A connection that refuses to send while its breaker is open, and trips it when the
    server does not answer."""

    def __init__(self, *, breaker: Breaker, **kwargs: Any) -> None:
        self.breaker = breaker
        self._generation = breaker.generation
        super().__init__(**kwargs)

    def connect(self) -> None:
        self.breaker.check()
        self._generation = self.breaker.generation
        try:
            super().connect()
        except _UNREACHABLE as error:
            self._trip(error)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.breaker.check()
        if self._generation != self.breaker.generation:
            # Opened before an outage: the server may have restarted since.
            self.disconnect()
            self._generation = self.breaker.generation
        try:
            super().send_packed_command(command, check_health)
        except _UNREACHABLE as error:
            self._trip(error)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except _UNREACHABLE as error:
            self._trip(error)
            raise

    def _trip(self, error: Exception) -> None:
        if not isinstance(error, RedisDown):
            self.breaker.trip()


def _plain(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )


def _answers(client: redis.Redis) -> bool:
    # Any failure, not only redis-py's own: an escaped one would end the probe, and with it
    # every later call of the replica.
    try:
        return bool(client.ping())
    except Exception:
        return False


def guarded_client(url: str, timeout_s: float, probe_every_s: float) -> redis.Redis:
    """A client for request paths: no retries (a request degrades instead), `timeout_s` per
    connect and read, and a breaker shared by its connections, probed every `probe_every_s`."""
    probe = _plain(url, timeout_s)
    breaker = Breaker(lambda: _answers(probe), probe_every_s)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        connection_class=GuardedConnection,
        breaker=breaker,
    )


def breaker_of(client: redis.Redis) -> Breaker | None:
    """The breaker of a `guarded_client`; None for a plain client."""
    return client.connection_pool.connection_kwargs.get("breaker")


def serving_store(settings: Settings) -> OnlineStore:
    """The online store of a Serve replica: its calls are on request paths."""
    url = settings.resolved_redis_url()
    client = guarded_client(url, settings.redis_serving_timeout_s, settings.redis_probe_interval_s)
    return OnlineStore(url, settings.stream.max_len, client)
