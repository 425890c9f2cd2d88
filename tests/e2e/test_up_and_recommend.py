"""`starling up` on a small synthetic set, then /recommend over HTTP like a user."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT_S = 420


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    def __init__(self, url: str, home: Path, log: Path) -> None:
        self.url = url
        self.home = home
        self.log = log


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    home = tmp_path_factory.mktemp("home")
    port = _free_port()
    env = {
        **os.environ,
        "STARLING_HOME": str(home),
        "STARLING_HTTP_PORT": str(port),
        "STARLING_REDIS_PORT": str(_free_port()),
        "STARLING_RAY_DASHBOARD": "false",
        "STARLING_NUM_CPUS": "2",
        "STARLING_DATA__SYNTH_USERS": "300",
        "STARLING_DATA__SYNTH_ITEMS": "400",
        "STARLING_DATA__SYNTH_RATINGS": "30000",
        "STARLING_ITEM2VEC__EPOCHS": "2",
        "STARLING_RANK__EPOCHS": "1",
    }
    log = home / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli", "up"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while "Starling is up at" not in log.read_text():
            if process.poll() is not None:
                pytest.fail(f"starling up exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"starling up not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(1)
        yield RunningApp(url, home, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()


def _rated_by(home: Path, user_id: int) -> set[int]:
    with (home / "data" / "synthetic" / "ratings.csv").open() as handle:
        return {int(r["movieId"]) for r in csv.DictReader(handle) if int(r["userId"]) == user_id}


def test_up_reports_every_step_and_a_curl_example(app: RunningApp) -> None:
    log = app.log.read_text()
    for step in ("synth", "ingest", "features", "online", "train recall", "train rank"):
        assert f"✓ {step}" in log
    assert f"curl -s -X POST {app.url}/recommend" in log


def test_healthz_lists_all_four_deployments(app: RunningApp) -> None:
    answer = httpx.get(f"{app.url}/healthz")
    assert answer.status_code == 200
    assert set(answer.json()["deployments"]) == {"Gateway", "Recall", "Rank", "Rerank"}


def test_known_user_gets_k_unseen_titled_items_with_a_trace(app: RunningApp) -> None:
    answer = httpx.post(f"{app.url}/recommend", json={"user_id": 1, "k": 7, "debug": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = body["items"]
    assert len(items) == 7
    assert len({i["item_id"] for i in items}) == 7
    assert all(i["title"] for i in items)
    assert not {i["item_id"] for i in items} & _rated_by(app.home, 1)
    # A score is the ranker's probability plus what the rerank policies added (MMR only picks).
    probabilities = [
        i["score"] - sum(v for name, v in i["contributions"].items() if name != "mmr")
        for i in items
    ]
    assert all(-1e-6 <= p <= 1.0 + 1e-6 for p in probabilities)
    assert body["cold_start"] is False
    assert body["degraded"] == []
    stages = {t["stage"]: t for t in body["trace"]}
    assert {"recall", "rank", "rerank", "total"} <= set(stages)
    assert stages["recall"]["candidates_out"] >= stages["rank"]["candidates_out"] >= 7
    assert stages["recall"]["model"].startswith("item2vec:v")
    assert stages["rank"]["model"].startswith("mlp:v")
    assert all(i["routes"] and "mmr" in i["contributions"] for i in items)


def test_excluded_items_never_come_back(app: RunningApp) -> None:
    first = httpx.post(f"{app.url}/recommend", json={"user_id": 2, "k": 5}).json()["items"]
    dropped = [i["item_id"] for i in first[:3]]
    again = httpx.post(f"{app.url}/recommend", json={"user_id": 2, "k": 5, "exclude": dropped})
    assert again.status_code == 200
    assert not set(dropped) & {i["item_id"] for i in again.json()["items"]}
    assert len(again.json()["items"]) == 5


def test_unknown_user_gets_popular_items_not_an_error(app: RunningApp) -> None:
    answer = httpx.post(f"{app.url}/recommend", json={"user_id": 987654321, "k": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cold_start"] is True
    assert len(body["items"]) == 5
    assert "trace" not in body


def test_unknown_user_browsing_a_genre_gets_that_genres_items(app: RunningApp) -> None:
    body = {"user_id": 987654321, "k": 5, "genre": "Comedy", "debug": True}
    items = httpx.post(f"{app.url}/recommend", json=body).json()["items"]
    assert len(items) == 5
    assert all("Comedy" in i["genres"] for i in items)


def test_bad_requests_get_a_reason(app: RunningApp) -> None:
    for bad in ({"user_id": "abc", "k": 5}, {"user_id": 1, "k": 0}, {"user_id": 1, "k": 10_000}):
        answer = httpx.post(f"{app.url}/recommend", json=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"]


def test_status_command_sees_the_running_app(app: RunningApp) -> None:
    port = app.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "status", "--home", str(app.home), "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "item2vec v1" in result.stdout
    assert ": ok" in result.stdout


def test_browse_by_genre_sorted_by_rating(app: RunningApp) -> None:
    answer = httpx.get(f"{app.url}/items", params={"genre": "Comedy", "sort": "rating", "limit": 5})
    assert answer.status_code == 200
    items = answer.json()
    assert len(items) == 5
    assert all("Comedy" in i["genres"] for i in items)
    ratings = [i["avg_rating"] for i in items]
    assert ratings == sorted(ratings, reverse=True)
    assert httpx.get(f"{app.url}/items", params={"sort": "nonsense"}).status_code == 422


def test_user_page_and_unknown_ids(app: RunningApp) -> None:
    user = httpx.get(f"{app.url}/users/1").json()
    assert user["rating_count"] == len(_rated_by(app.home, 1))
    assert user["favourite_genres"]
    assert all(i["title"] for i in user["recent_positives"])
    assert httpx.get(f"{app.url}/users/987654321").status_code == 404
    assert httpx.get(f"{app.url}/items/987654321").status_code == 404


def test_metrics_count_requests_and_stage_latency(app: RunningApp) -> None:
    httpx.post(f"{app.url}/recommend", json={"user_id": 3, "k": 4})
    text = httpx.get(f"{app.url}/metrics").text
    assert 'starling_requests_total{endpoint="recommend",status="200"}' in text
    assert 'starling_stage_seconds_bucket{le="0.1",stage="rank"}' in text
    served = [ln for ln in text.splitlines() if ln.startswith("starling_items_served_total")]
    assert served and float(served[0].split()[-1]) >= 4


def test_offline_replay_of_recommend_beats_a_random_ranking(app: RunningApp) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "eval", "recall", "--home", str(app.home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((app.home / "stats" / "recall_eval.json").read_text())
    rows = {m["name"]: m for m in saved["methods"]}
    assert "recommend" in result.stdout
    recommend = rows["recommend"]
    assert recommend["kind"] == "pipeline"
    assert recommend["users_with_candidates"] == saved["users"]
    # A random list of 50 unseen items finds about 50 / catalog of each user's relevant items.
    random_recall_at_50 = 50 / saved["catalog_items"]
    assert recommend["metrics"]["recall@50"] > 2 * random_recall_at_50
    assert recommend["metrics"]["ndcg@10"] > 0
