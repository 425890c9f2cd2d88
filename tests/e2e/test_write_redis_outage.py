"""Redis hangs under /recommend load (its process SIGSTOPped) and wakes again (SIGCONT).

Named to run last (pytest takes files in name order): it writes an event once Redis is back,
and while Redis hangs every replica marks it down.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from core.settings import Settings
from tests.support.e2e_calls import post_events, recommend
from tests.support.paused_redis import paused, redis_server_on
from tests.support.running_app import RunningApp

pytestmark = pytest.mark.e2e

STAGE_TIMEOUT_S = Settings().stage_timeout_s
# The HTTP hop and the Gateway's own work beside the stages' timeout, on a loaded 2-core machine.
SLACK_S = 1.0
EVENT = {"user_id": 987_650_777, "item_id": 1, "event_type": "view"}


def _timed_recommend(app: RunningApp, user_id: int) -> tuple[int, list[str], int, float]:
    started = time.perf_counter()
    answer = recommend(app, {"user_id": user_id, "k": 5})
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        return answer.status_code, [], 0, seconds
    body = answer.json()
    return 200, body["degraded"], len(body["items"]), seconds


def _under_load(app: RunningApp, requests: int) -> list[tuple[int, list[str], int, float]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda n: _timed_recommend(app, n % 150 + 1), range(requests)))


def _recovered(app: RunningApp, timeout_s: float) -> float:
    """Seconds until /recommend is full quality and an event is accepted again."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        status, degraded, items, _ = _timed_recommend(app, 3)
        full = status == 200 and not degraded and items
        if full and post_events(app, [EVENT]).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"not recovered {timeout_s} s after Redis woke")


def test_a_hung_redis_degrades_recommendations_refuses_events_and_recovers(
    app: RunningApp,
) -> None:
    healthy = sorted(a[3] for a in _under_load(app, 20))
    assert _timed_recommend(app, 3)[1] == []
    redis_pid = redis_server_on(int(app.env["STARLING_REDIS_PORT"]), app.pid)
    with paused(redis_pid):
        answers = _under_load(app, 40)
        started = time.perf_counter()
        refused = post_events(app, [EVENT])
        events_s = time.perf_counter() - started
        health = httpx.get(f"{app.url}/healthz", timeout=10)
    seconds = sorted(a[3] for a in answers)
    median = seconds[len(seconds) // 2]
    print(f"\nRedis up: /recommend max {healthy[-1]:.2f} s, median {healthy[10]:.3f} s")
    print(f"while Redis hung: /recommend max {seconds[-1]:.2f} s, median {median:.3f} s")
    print(f"while Redis hung: /events {refused.status_code} in {events_s:.2f} s")
    assert [a[0] for a in answers] == [200] * len(answers)
    assert all(degraded for _, degraded, _, _ in answers), answers
    assert all(items == 5 for _, _, items, _ in answers), answers
    assert seconds[-1] < STAGE_TIMEOUT_S + SLACK_S, answers
    # Once a replica has marked Redis down, its requests skip Redis at once: no slower than
    # with Redis up (the machine's load sets both).
    assert median < max(0.5, 2 * healthy[10]), answers
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"]
    assert events_s < STAGE_TIMEOUT_S
    assert health.status_code == 200
    assert (health.json()["status"], health.json()["redis"]) == ("degraded", "down")
    recovered_s = _recovered(app, timeout_s=15)
    print(f"full quality again {recovered_s:.2f} s after Redis woke")
    # /healthz reads at most once a second: it may say "down" for that second more.
    deadline = time.monotonic() + 3
    while httpx.get(f"{app.url}/healthz", timeout=10).json()["status"] != "ok":
        assert time.monotonic() < deadline, "/healthz still not ok with Redis back"
        time.sleep(0.2)
