"""API keys, POST /events, A/B variants and metrics per variant, over HTTP (the schema fuzz is
tests/chaos/serving/test_api_fuzz.py's).

This module writes events into the app, so it runs after test_up_and_recommend (pytest takes
files in name order), whose expectations hold for the untouched synthetic users.
"""

from __future__ import annotations

import httpx
import pytest

from core.experiments import Experiment
from tests.e2e.conftest import ADMIN_KEY, EXPERIMENTS, WRITE_KEY
from tests.support.e2e_calls import post_events, recommend, user_summary
from tests.support.running_app import RunningApp

pytestmark = pytest.mark.e2e

NEW_USER = 987_650_001


def test_events_need_a_write_key(app: RunningApp) -> None:
    event = {"user_id": 290, "item_id": 1, "event_type": "view"}
    assert post_events(app, [event], key=None).status_code == 401
    wrong = post_events(app, [event], key="not-a-key")
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    accepted = post_events(app, [event])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted"] == 1


def test_a_retried_batch_of_named_events_is_recorded_once(app: RunningApp) -> None:
    before = user_summary(app, 292).json()["rating_count"]
    batch = [
        {
            "user_id": 292,
            "item_id": item,
            "event_type": "rating",
            "value": 4.0,
            "event_id": f"e2e-{item}",
        }
        for item in (1, 2)
    ]
    first = post_events(app, batch)
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicates"]) == (2, 0)
    again = post_events(app, batch)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert again.json()["event_ids"] == ["e2e-1", "e2e-2"]
    assert user_summary(app, 292).json()["rating_count"] == before + 2


def test_bad_events_get_a_reason_and_nothing_is_recorded(app: RunningApp) -> None:
    for bad in (
        [{"user_id": 290, "item_id": 1, "event_type": "like"}],
        [{"user_id": "290", "item_id": 1, "event_type": "click"}],
        [{"user_id": 290, "item_id": 1, "event_type": "click", "colour": "red"}],
    ):
        answer = post_events(app, bad)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"]
    before = user_summary(app, 291).json()["rating_count"]
    mixed = [
        {"user_id": 291, "item_id": 1, "event_type": "rating", "value": 4.0},
        {"user_id": 291, "item_id": 987_654_321, "event_type": "click"},
    ]
    answer = post_events(app, mixed)
    assert answer.status_code == 422
    assert "no item 987654321" in answer.json()["detail"]
    assert user_summary(app, 291).json()["rating_count"] == before


def test_every_answer_names_the_users_sticky_variants(app: RunningApp) -> None:
    experiments = [Experiment.model_validate(e) for e in EXPERIMENTS]
    for user in (5, 6, 7, NEW_USER):
        first = recommend(app, {"user_id": user, "k": 3}).json()
        again = recommend(app, {"user_id": user, "k": 3}).json()
        expected = {e.name: e.assign(user).name for e in experiments}
        assert first["variants"] == again["variants"] == expected
        assert first["request_id"] != again["request_id"]


def test_an_admin_key_may_force_a_variant_served_from_the_rank_pool(app: RunningApp) -> None:
    body = {"user_id": 5, "k": 5, "debug": True, "variants": {"ranker": "mlp_v1"}}
    assert recommend(app, body).status_code == 403
    assert recommend(app, body, WRITE_KEY).status_code == 403
    forced = recommend(app, body, ADMIN_KEY)
    assert forced.status_code == 200, forced.text
    assert forced.json()["variants"]["ranker"] == "mlp_v1"
    assert forced.json()["degraded"] == []
    assert len(forced.json()["items"]) == 5
    unknown = recommend(app, {**body, "variants": {"ranker": "nope"}}, ADMIN_KEY)
    assert unknown.status_code == 422
    assert "nope" in unknown.json()["detail"]


def test_rated_and_clicked_items_leave_the_next_recommendations(app: RunningApp) -> None:
    before = [i["item_id"] for i in recommend(app, {"user_id": 250, "k": 10}).json()["items"]]
    rated, clicked = before[0], before[1]
    posted = post_events(
        app,
        [
            {"user_id": 250, "item_id": rated, "event_type": "rating", "value": 5.0},
            {"user_id": 250, "item_id": clicked, "event_type": "click"},
        ],
    )
    assert posted.status_code == 200, posted.text
    after = [i["item_id"] for i in recommend(app, {"user_id": 250, "k": 10}).json()["items"]]
    assert rated not in after and clicked not in after
    # A click stands for a positive rating too: both lead the recent items, newest first.
    recent = user_summary(app, 250).json()["recent_positives"]
    assert [i["item_id"] for i in recent[:2]] == [clicked, rated]


def test_a_positive_rating_ends_a_new_users_cold_start(app: RunningApp) -> None:
    cold = recommend(app, {"user_id": NEW_USER, "k": 5, "debug": True}).json()
    assert cold["cold_start"] is True
    liked = cold["items"][0]["item_id"]
    rating = {"user_id": NEW_USER, "item_id": liked, "event_type": "rating", "value": 4.5}
    assert post_events(app, [rating]).status_code == 200
    warm = recommend(app, {"user_id": NEW_USER, "k": 5, "debug": True}).json()
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
    answer = recommend(app, {"user_id": 8, "k": 4}).json()
    text = httpx.get(f"{app.url}/metrics").text
    for experiment, variant in answer["variants"].items():
        labels = f'{{experiment="{experiment}",variant="{variant}"}}'
        assert f"starling_variant_requests_total{labels}" in text
        assert f"starling_variant_items_served_total{labels}" in text
    assert "starling_variant_request_seconds_bucket" in text
