"""API keys, POST /events, A/B variants, impressions and the abtest report, over HTTP.

This module writes events into the app, so it runs after test_up_and_recommend (pytest takes
files in name order), whose expectations hold for the untouched synthetic users.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

from core.event_key import text_keys
from core.experiments import Experiment
from core.paths import StarlingPaths
from core.tables import EVENTS
from tests.e2e.conftest import ADMIN_KEY, EXPERIMENTS, WRITE_KEY
from tests.support.running_app import RunningApp

pytestmark = pytest.mark.e2e

NEW_USER = 987_650_001
# The EventLander lands every 5 s; a loaded 2-core machine may delay a round.
LANDING_TIMEOUT_S = 60


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _recommend(app: RunningApp, body: dict, key: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{app.url}/recommend", json=body, headers=_auth(key) if key else {}, timeout=30
    )


def _post_events(app: RunningApp, events: list[dict], key: str | None = WRITE_KEY):
    headers = _auth(key) if key else {}
    return httpx.post(f"{app.url}/events", json={"events": events}, headers=headers, timeout=30)


def _cli(app: RunningApp, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", *args],
        env=app.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_events_need_a_write_key(app: RunningApp) -> None:
    event = {"user_id": 290, "item_id": 1, "event_type": "view"}
    assert _post_events(app, [event], key=None).status_code == 401
    wrong = _post_events(app, [event], key="not-a-key")
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    accepted = _post_events(app, [event])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted"] == 1


def test_bad_events_get_a_reason_and_nothing_is_recorded(app: RunningApp) -> None:
    for bad in (
        [{"user_id": 290, "item_id": 1, "event_type": "like"}],
        [{"user_id": "290", "item_id": 1, "event_type": "click"}],
        [{"user_id": 290, "item_id": 1, "event_type": "click", "colour": "red"}],
    ):
        answer = _post_events(app, bad)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"]
    before = httpx.get(f"{app.url}/users/291").json()["rating_count"]
    mixed = [
        {"user_id": 291, "item_id": 1, "event_type": "rating", "value": 4.0},
        {"user_id": 291, "item_id": 987_654_321, "event_type": "click"},
    ]
    answer = _post_events(app, mixed)
    assert answer.status_code == 422
    assert "no item 987654321" in answer.json()["detail"]
    assert httpx.get(f"{app.url}/users/291").json()["rating_count"] == before


def test_every_answer_names_the_users_sticky_variants(app: RunningApp) -> None:
    experiments = [Experiment.model_validate(e) for e in EXPERIMENTS]
    for user in (5, 6, 7, NEW_USER):
        first = _recommend(app, {"user_id": user, "k": 3}).json()
        again = _recommend(app, {"user_id": user, "k": 3}).json()
        expected = {e.name: e.assign(user).name for e in experiments}
        assert first["variants"] == again["variants"] == expected
        assert first["request_id"] != again["request_id"]


def test_an_admin_key_may_force_a_variant_served_from_the_rank_pool(app: RunningApp) -> None:
    body = {"user_id": 5, "k": 5, "debug": True, "variants": {"ranker": "mlp_v1"}}
    assert _recommend(app, body).status_code == 403
    assert _recommend(app, body, WRITE_KEY).status_code == 403
    forced = _recommend(app, body, ADMIN_KEY)
    assert forced.status_code == 200, forced.text
    assert forced.json()["variants"]["ranker"] == "mlp_v1"
    assert forced.json()["degraded"] == []
    assert len(forced.json()["items"]) == 5
    unknown = _recommend(app, {**body, "variants": {"ranker": "nope"}}, ADMIN_KEY)
    assert unknown.status_code == 422
    assert "nope" in unknown.json()["detail"]


def test_rated_and_clicked_items_leave_the_next_recommendations(app: RunningApp) -> None:
    before = [i["item_id"] for i in _recommend(app, {"user_id": 250, "k": 10}).json()["items"]]
    rated, clicked = before[0], before[1]
    posted = _post_events(
        app,
        [
            {"user_id": 250, "item_id": rated, "event_type": "rating", "value": 5.0},
            {"user_id": 250, "item_id": clicked, "event_type": "click"},
        ],
    )
    assert posted.status_code == 200, posted.text
    after = [i["item_id"] for i in _recommend(app, {"user_id": 250, "k": 10}).json()["items"]]
    assert rated not in after and clicked not in after
    assert httpx.get(f"{app.url}/users/250").json()["recent_positives"][0]["item_id"] == rated


def test_a_positive_rating_ends_a_new_users_cold_start(app: RunningApp) -> None:
    cold = _recommend(app, {"user_id": NEW_USER, "k": 5, "debug": True}).json()
    assert cold["cold_start"] is True
    liked = cold["items"][0]["item_id"]
    rating = {"user_id": NEW_USER, "item_id": liked, "event_type": "rating", "value": 4.5}
    assert _post_events(app, [rating]).status_code == 200
    warm = _recommend(app, {"user_id": NEW_USER, "k": 5, "debug": True}).json()
    assert warm["cold_start"] is False
    assert liked not in {i["item_id"] for i in warm["items"]}
    # The new positive seeds the personal recall routes, which found nothing before it.
    personal = ("embedding", "item_cf", "item_to_item")

    def proposed(answer: dict) -> int:
        recall = next(t for t in answer["trace"] if t["stage"] == "recall")
        return sum(int(recall["detail"].get(route, 0)) for route in personal)

    assert proposed(cold) == 0
    assert proposed(warm) > 0, warm["trace"]


def test_metrics_count_requests_and_items_per_variant(app: RunningApp) -> None:
    answer = _recommend(app, {"user_id": 8, "k": 4}).json()
    text = httpx.get(f"{app.url}/metrics").text
    for experiment, variant in answer["variants"].items():
        labels = f'{{experiment="{experiment}",variant="{variant}"}}'
        assert f"starling_variant_requests_total{labels}" in text
        assert f"starling_variant_items_served_total{labels}" in text
    assert "starling_variant_request_seconds_bucket" in text


def _landed(app: RunningApp, request_id: str) -> pd.DataFrame:
    """The lake's events that carry this request id, once the EventLander has landed them."""
    lake = StarlingPaths(app.home).events
    deadline = time.monotonic() + LANDING_TIMEOUT_S
    while time.monotonic() < deadline:
        if lake.exists():
            events = pq.read_table(lake, schema=EVENTS).to_pandas()
            mine = events[events["source"].str.contains(f"req={request_id}", regex=False)]
            if len(mine) == 3:
                return mine
        time.sleep(0.5)
    pytest.fail(f"the impressions of {request_id} did not land in {LANDING_TIMEOUT_S} s")


def test_impressions_and_feedback_land_in_the_lake_by_themselves(app: RunningApp) -> None:
    shown = _recommend(app, {"user_id": 9, "k": 3}).json()
    click = {"user_id": 9, "item_id": shown["items"][0]["item_id"], "event_type": "click"}
    assert _post_events(app, [click]).status_code == 200
    # Nobody runs `starling events consume`: the app's EventLander lands them.
    mine = _landed(app, shown["request_id"])
    assert sorted(mine["value"]) == [0.0, 1.0, 2.0]
    assert set(mine["event_type"]) == {"impression"}
    assert set(mine["item_id"]) == {i["item_id"] for i in shown["items"]}
    status = httpx.get(f"{app.url}/admin/stream", headers=_auth(ADMIN_KEY), timeout=30).json()
    assert status["landed"] >= 4 and status["dropped"] == 0 and status["last_error"] is None
    assert 'starling_stream{measure="landed"}' in httpx.get(f"{app.url}/metrics").text
    assert httpx.get(f"{app.url}/admin/stream", timeout=30).status_code == 401
    # The CLI stays for manual runs; here it finds nothing left to land.
    assert "landed 0 new events" in _cli(app, "events", "consume")
    report = _cli(app, "abtest", "report")
    for experiment in EXPERIMENTS:
        for variant in experiment["variants"]:
            assert variant["name"] in report


def test_a_burst_on_a_cold_item_is_trending_within_two_seconds(app: RunningApp) -> None:
    by_popularity = httpx.get(f"{app.url}/items", params={"limit": 500}, timeout=30).json()
    cold = by_popularity[-1]["item_id"]
    views = [{"user_id": 200 + n, "item_id": cold, "event_type": "view"} for n in range(50)]
    started = time.monotonic()
    for first in range(0, 50, 10):
        assert _post_events(app, views[first : first + 10]).status_code == 200
    posted = time.monotonic()
    assert posted - started < 1.0, "the burst took more than a second to post"
    while time.monotonic() - posted < 5.0:
        top = httpx.get(f"{app.url}/items", params={"sort": "trending", "limit": 1}).json()
        if top[0]["item_id"] == cold:
            break
        time.sleep(0.05)
    seen_after = time.monotonic() - posted
    assert top[0]["item_id"] == cold and top[0]["trending"] == 50.0
    assert seen_after <= 2.0
    # The last day's events lift it in the popularity order too (counts are read at most a
    # second apart; the order above read them before the burst).
    time.sleep(1.0)
    lifted = {
        i["item_id"]: i["popularity"]
        for i in httpx.get(f"{app.url}/items", params={"limit": 500}, timeout=30).json()
    }
    assert lifted[cold] == pytest.approx(by_popularity[-1]["popularity"] + 50)


def test_a_new_item_put_online_takes_events_at_once_and_reaches_the_lake(app: RunningApp) -> None:
    new = 990_001
    entry = {"title": "Starling: The Movie", "genres": ["Documentary"], "year": 2026}
    url = f"{app.url}/items/{new}"
    view = {"user_id": 5, "item_id": new, "event_type": "view"}
    assert _post_events(app, [view]).status_code == 422
    assert httpx.put(url, json=entry, timeout=30).status_code == 401
    bad = httpx.put(url, json={**entry, "year": 3000}, headers=_auth(WRITE_KEY), timeout=30)
    assert bad.status_code == 422
    put = httpx.put(url, json=entry, headers=_auth(WRITE_KEY), timeout=30)
    assert put.status_code == 200, put.text
    assert httpx.get(url, timeout=30).json()["title"] == "Starling: The Movie"
    # Refused as unknown before the put; accepted now.
    assert _post_events(app, [view]).status_code == 200
    items = StarlingPaths(app.home).items / "items.parquet"
    deadline = time.monotonic() + LANDING_TIMEOUT_S
    while new not in pq.read_table(items, columns=["item_id"]).column(0).to_pylist():
        assert time.monotonic() < deadline, "the new item did not reach the lake's items table"
        time.sleep(0.5)
    status = httpx.get(f"{app.url}/admin/stream", headers=_auth(ADMIN_KEY), timeout=30).json()
    assert status["pending_items"] == 0


def _lander_replica(app: RunningApp) -> psutil.Process | None:
    for process in psutil.Process(app.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "ServeReplica:starling:EventLander" in " ".join(process.cmdline()):
                return process
    return None


def test_events_posted_while_the_lander_is_killed_land_exactly_once(app: RunningApp) -> None:
    ids: list[str] = []

    def post() -> None:
        views = [{"user_id": 700 + n, "item_id": 1, "event_type": "view"} for n in range(10)]
        answer = _post_events(app, views)
        assert answer.status_code == 200, answer.text
        ids.extend(answer.json()["event_ids"])

    for _ in range(5):
        post()
    replica = _lander_replica(app)
    assert replica is not None
    replica.kill()
    # Posting goes on while Serve replaces the replica; the stream holds the events meanwhile.
    for _ in range(15):
        post()
        time.sleep(0.2)
    keys = set(text_keys(ids).tolist())
    lake = StarlingPaths(app.home).events
    deadline = time.monotonic() + 120
    while True:
        landed = pq.read_table(lake, schema=EVENTS, columns=["event_id"]).column(0).to_numpy()
        mine = landed[np.isin(landed, list(keys))]
        if len(set(mine.tolist())) == len(keys) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(set(mine.tolist())) == len(keys) == 200
    assert len(mine) == len(keys), "an event landed twice"
    replacement = _lander_replica(app)
    assert replacement is not None and replacement.pid != replica.pid


def test_schemathesis_finds_no_server_error(app: RunningApp, tmp_path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{app.url}/openapi.json"),
            *("--checks", "not_a_server_error", "--max-examples", "15", "--seed", "6"),
            *("--workers", "1", "--generation-database", "none", "--no-color"),
            *("--request-timeout", "30", "--header", f"Authorization: Bearer {ADMIN_KEY}"),
            *("--report", "junit", "--report-dir", str(tmp_path)),
            # Valid random bodies for these would really scale the app or swap its models;
            # tests/e2e/test_ops.py covers them with deliberate values.
            *("--exclude-path-regex", "^/admin/(scale|models)"),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    # The write routes were exercised, not skipped (the report names every operation tested).
    report = "".join(path.read_text() for path in tmp_path.glob("*.xml"))
    for operation in ("POST /events", "PUT /items/{item_id}", "POST /recommend"):
        assert f'testcase name="{operation}"' in report
