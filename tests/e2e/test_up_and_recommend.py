"""`starling up` on a small synthetic set, then /recommend over HTTP like a user."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from tests.support.e2e_calls import user_summary
from tests.support.running_app import RunningApp

pytestmark = pytest.mark.e2e


def _rated_by(home: Path, user_id: int) -> set[int]:
    with (home / "data" / "synthetic" / "ratings.csv").open() as handle:
        return {int(r["movieId"]) for r in csv.DictReader(handle) if int(r["userId"]) == user_id}


def test_up_reports_every_step_and_a_curl_example(app: RunningApp) -> None:
    log = app.log.read_text()
    # Done, or skipped as fresh where the app's home began as a copy of the suite's trained one.
    for step in ("synth", "ingest", "features", "online", "train recall", "train rank"):
        assert f"✓ {step}" in log or re.search(rf"^· {step} +(fresh|nothing new)", log, re.M), log
    assert f"curl -s -X POST {app.url}/recommend" in log


def test_healthz_lists_all_five_deployments(app: RunningApp) -> None:
    answer = httpx.get(f"{app.url}/healthz")
    assert answer.status_code == 200
    assert set(answer.json()["deployments"]) == {
        "Gateway",
        "Recall",
        "Rank",
        "Rerank",
        "EventLander",
        "Learner",
    }


def test_replicas_run_at_the_priority_of_the_command_that_started_them(app: RunningApp) -> None:
    # Ray starts its workers at niceness 15, where any other process on the machine takes the
    # CPU from a replica in the middle of a request.
    replicas: dict[str, int] = {}
    for process in psutil.Process(app.pid).children(recursive=True):
        try:
            title = " ".join(process.cmdline()).strip()
            if title.startswith("ray::ServeReplica:"):
                replicas[title] = process.nice()
        except psutil.NoSuchProcess:
            continue
    assert {name.split(":")[-1] for name in replicas} >= {"Gateway", "Recall", "Rank", "Rerank"}
    assert set(replicas.values()) == {psutil.Process(app.pid).nice()}


def test_known_user_gets_k_unseen_titled_items_with_a_trace(app: RunningApp) -> None:
    answer = httpx.post(f"{app.url}/recommend", json={"user_id": 1, "k": 7, "debug": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = body["items"]
    assert len(items) == 7
    assert len({i["item_id"] for i in items}) == 7
    assert all(i["title"] for i in items)
    assert not {i["item_id"] for i in items} & _rated_by(app.home, 1)
    # A score is Rank's order score, the affinity (the item bag's cosine to the user's history
    # plus its item-CF score on the cosine's scale) nudged by the ranker's log-odds (x 0.005),
    # plus what the rerank policies added (MMR only picks): no probability, but finite.
    order_scores = [
        i["score"] - sum(v for name, v in i["contributions"].items() if name != "mmr")
        for i in items
    ]
    assert all(math.isfinite(s) for s in order_scores)
    assert body["cold_start"] is False
    assert body["degraded"] == []
    stages = {t["stage"]: t for t in body["trace"]}
    assert {"recall", "rank", "rerank", "total"} <= set(stages)
    assert stages["recall"]["candidates_out"] >= stages["rank"]["candidates_out"] >= 7
    assert stages["recall"]["model"].startswith("item_bag:v")
    assert stages["rank"]["model"].startswith("mlp:v")
    assert stages["rank"]["detail"]["order"] == "affinity"
    # The item bag's item-CF weights propose what the user's history speaks for.
    assert stages["recall"]["detail"]["item_cf"] > 0
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
        [
            sys.executable,
            "-m",
            "cluster.cli.main",
            "status",
            "--home",
            str(app.home),
            "--port",
            port,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "item_bag v1" in result.stdout
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
    summary = user_summary(app, 1).json()
    assert summary["rating_count"] == len(_rated_by(app.home, 1))
    assert summary["favourite_genres"]
    assert all(i["title"] for i in summary["recent_positives"])
    assert user_summary(app, 987654321).status_code == 404
    # A user's history is not public: without a key (demo setting off) nobody reads it.
    for key in (None, "not-a-key"):
        refused = user_summary(app, 1, key=key)
        assert refused.status_code == 401 and "rating_count" not in refused.text
    assert httpx.get(f"{app.url}/items/987654321").status_code == 404


def test_metrics_count_requests_and_stage_latency(app: RunningApp) -> None:
    httpx.post(f"{app.url}/recommend", json={"user_id": 3, "k": 4})
    text = httpx.get(f"{app.url}/metrics").text
    assert 'starling_requests_total{endpoint="recommend",status="200"}' in text
    assert 'starling_stage_seconds_bucket{le="0.1",stage="rank"}' in text
    served = [ln for ln in text.splitlines() if ln.startswith("starling_items_served_total")]
    assert served and float(served[0].split()[-1]) >= 4


def test_similar_items_are_titled_and_share_a_genre_more_often_than_chance(
    app: RunningApp,
) -> None:
    catalog = httpx.get(f"{app.url}/items", params={"limit": 500}).json()
    shared = chance = 0.0
    for item in catalog[:10]:
        answer = httpx.get(f"{app.url}/items/{item['item_id']}/similar", params={"k": 10})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["source"] == "embedding" and body["model"].startswith("item_bag:v")
        similar = body["items"]
        assert len(similar) == 10 and all(i["title"] for i in similar)
        assert item["item_id"] not in {i["item_id"] for i in similar}
        genres = set(item["genres"])
        shared += np.mean([bool(genres & set(i["genres"])) for i in similar])
        chance += np.mean([bool(genres & set(i["genres"])) for i in catalog if i != item])
    assert shared > 1.2 * chance, (shared / 10, chance / 10)


def test_similar_items_keep_to_the_genre_and_year_asked_for(app: RunningApp) -> None:
    item = httpx.get(f"{app.url}/items", params={"limit": 1}).json()[0]
    params = {"k": 5, "genre": "Comedy", "min_year": 2000}
    similar = httpx.get(f"{app.url}/items/{item['item_id']}/similar", params=params).json()
    assert similar["items"]
    assert all("Comedy" in i["genres"] and i["year"] >= 2000 for i in similar["items"])


def test_similar_items_of_unknown_items_and_bad_k_get_a_reason(app: RunningApp) -> None:
    missing = httpx.get(f"{app.url}/items/987654321/similar")
    assert missing.status_code == 404 and missing.json()["detail"]
    item = httpx.get(f"{app.url}/items", params={"limit": 1}).json()[0]["item_id"]
    for k in ("0", "abc", "10000"):
        answer = httpx.get(f"{app.url}/items/{item}/similar", params={"k": k})
        assert answer.status_code == 422, k
        assert answer.json()["detail"]


def test_offline_replay_of_recommend_beats_a_random_ranking(app: RunningApp) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", "eval", "recall", "--home", str(app.home)],
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
