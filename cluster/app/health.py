"""`/healthz`'s answer, read off the event loop and kept for a second.

`serve.status()` is a blocking call to the Serve controller, and a ping of a hung Redis waits
its timeout: on the Gateway's event loop either would stall every request in flight there,
and a load balancer polling /healthz would cause it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis
from fastapi import HTTPException
from ray import serve

from cluster.names import APP_NAME
from core.api import Health
from core.online_store import OnlineStore

HEALTHY = "HEALTHY"


def serve_deployments() -> dict[str, str]:
    """Each deployment of the app with its state; empty before the app is deployed."""
    status = serve.status().applications.get(APP_NAME)
    return {name: str(d.status.value) for name, d in status.deployments.items()} if status else {}


def redis_answers(store: OnlineStore) -> bool:
    try:
        return store.ping()
    except redis.RedisError:
        return False


def health_of(deployments: dict[str, str], redis_up: bool) -> tuple[Health, int]:
    """The answer and its status code: 503 until every deployment is healthy; then 200, with
    status "degraded" while Redis is down (the app still recommends, from memory; taking every
    replica out of a load balancer would serve nothing at all)."""
    redis = "up" if redis_up else "down"
    if not deployments or any(s != HEALTHY for s in deployments.values()):
        return Health(status="starting", deployments=deployments, redis=redis), 503
    status = "ok" if redis_up else "degraded"
    return Health(status=status, deployments=deployments, redis=redis), 200


def redis_unavailable() -> HTTPException:
    """What a route that needs Redis answers while it is unreachable."""
    return HTTPException(503, "Redis is unreachable; try again", headers={"Retry-After": "1"})


class HealthCheck:
    """Reads the deployments' states and Redis's reachability in a worker thread at most once
    every `every_s`; concurrent requests share one read."""

    def __init__(
        self,
        deployments: Callable[[], dict[str, str]],
        redis_up: Callable[[], bool],
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deployments = deployments
        self._redis_up = redis_up
        self._every_s = every_s
        self._clock = clock
        self._read_at = float("-inf")
        self._answer: tuple[Health, int] | None = None
        self._reading: asyncio.Task[tuple[Health, int]] | None = None

    async def current(self) -> tuple[Health, int]:
        if self._answer is not None and self._clock() - self._read_at < self._every_s:
            return self._answer
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(asyncio.to_thread(self._read))
        self._answer = await asyncio.shield(self._reading)
        return self._answer

    def _read(self) -> tuple[Health, int]:
        answer = health_of(self._deployments(), self._redis_up())
        self._read_at = self._clock()
        return answer
