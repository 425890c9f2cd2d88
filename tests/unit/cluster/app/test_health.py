from __future__ import annotations

import asyncio
import threading
import time

from cluster.app.health import HealthCheck, health_of

ALL_UP = {"Gateway": "HEALTHY", "Recall": "HEALTHY"}


def test_redis_down_is_a_degraded_200_and_a_starting_app_a_503() -> None:
    health, code = health_of(ALL_UP, redis_up=True)
    assert (code, health.status, health.redis) == (200, "ok", "up")
    health, code = health_of(ALL_UP, redis_up=False)
    assert (code, health.status, health.redis) == (200, "degraded", "down")
    health, code = health_of({"Gateway": "HEALTHY", "Recall": "UPDATING"}, redis_up=True)
    assert (code, health.status) == (503, "starting")
    assert health_of({}, redis_up=True)[1] == 503


def test_a_slow_read_neither_stalls_the_event_loop_nor_is_repeated_within_a_second() -> None:
    reads: list[str] = []

    def slow_deployments() -> dict[str, str]:
        # A blocking call, as serve.status() is: it must run off the loop.
        reads.append(threading.current_thread().name)
        time.sleep(0.3)
        return ALL_UP

    check = HealthCheck(slow_deployments, lambda: False)

    async def scenario() -> tuple[int, list[int]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        running = asyncio.get_running_loop().create_task(ticker())
        answers = await asyncio.gather(*(check.current() for _ in range(5)))
        again = await check.current()
        running.cancel()
        return ticks, [code for _, code in [*answers, again]]

    ticks, codes = asyncio.run(scenario())
    assert codes == [200] * 6
    assert ticks >= 10
    assert len(reads) == 1 and reads[0] != threading.main_thread().name
