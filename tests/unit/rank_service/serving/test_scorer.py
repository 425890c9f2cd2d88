from datetime import UTC, datetime

import numpy as np

from core.context import now_ms
from core.online_store import UserProfile
from core.registry import ModelRef
from rank_service.artifacts import load_artifacts
from rank_service.parquet import read_folder
from rank_service.predict import predict
from rank_service.serving.scorer import ITEM_COLUMNS, Scorer, ScoreRequest
from tests.support.rank_home import AT_MS


def test_scorer_scores_known_unknown_and_cold_in_request_order(home) -> None:
    registry, items = home
    scorer = Scorer.load(registry, ModelRef(kind="rank", name="mlp", version="v1"), items)
    profile = UserProfile(
        user_id=3,
        user_rating_count=12,
        user_avg_rating=4.1,
        user_genres=["Comedy"],
        user_recent_items=[5, 6],
    )
    ids = [*range(1, 50), 10_000]
    warm = scorer.score(profile, 3, ids)
    cold = scorer.score(None, 99_999, ids)
    for scores in (warm, cold):
        assert scores.shape == (50,) and scores.dtype == np.float32
        assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert not np.allclose(warm, cold)
    reversed_scores = scorer.score(profile, 3, ids[::-1])
    assert np.allclose(reversed_scores[::-1], warm, atol=1e-6)
    assert scorer.score(profile, 3, []).shape == (0,)


def test_scores_from_the_catalog_encoded_once_equal_scores_of_encoded_sample_rows(home) -> None:
    registry, items = home
    ref = ModelRef(kind="rank", name="mlp", version="v1")
    artifacts = load_artifacts(registry.path(ref))
    # Items 41-60 are in the model's vocabulary but not in this catalog; 10,000 is in neither.
    scorer = Scorer(artifacts, read_folder(items, ITEM_COLUMNS).slice(0, 40), ref)
    profile = UserProfile(
        user_id=3,
        user_rating_count=12,
        user_avg_rating=4.1,
        user_genres=["Comedy", "Drama"],
        user_last_ts=AT_MS - 86_400_000,
    )
    requests = [
        ScoreRequest(profile, 3, [*range(1, 61), 10_000], AT_MS),
        ScoreRequest(None, 99_999, [7, 50, 3], AT_MS + 3_600_000),
        ScoreRequest(profile, 3, [], AT_MS),
    ]

    scores = scorer.score_many(requests)

    for request, got in zip(requests, scores, strict=True):
        rows = scorer.rows(request.profile, request.user_id, request.item_ids, request.at_ms)
        expected = predict(artifacts.model, artifacts.encoder, rows)
        assert got.shape == expected.shape
        assert np.allclose(got, expected, atol=1e-6)


def _hour(ms: int) -> int:
    return datetime.fromtimestamp(ms / 1000, UTC).hour


def test_serving_rows_carry_the_requests_hour_day_and_time_since_the_last_rating(home) -> None:
    registry, items = home
    scorer = Scorer.load(registry, ModelRef(kind="rank", name="mlp", version="v1"), items)
    profile = UserProfile(user_id=3, user_rating_count=4, user_last_ts=AT_MS - 7_200_000)
    warm = scorer.rows(profile, 3, [1, 2, 10_000], AT_MS).to_pydict()
    assert warm["hour_of_day"] == [22] * 3 and warm["day_of_week"] == [5] * 3
    assert warm["seconds_since_last_event"] == [7200.0] * 3
    cold = scorer.rows(None, 9, [1], AT_MS).to_pydict()
    assert (cold["hour_of_day"], cold["day_of_week"]) == ([22], [5])
    assert cold["seconds_since_last_event"] == [None]  # never rated: as in a first sample
    before = now_ms()
    unset = scorer.rows(profile, 3, [1]).to_pydict()
    assert unset["hour_of_day"][0] in {_hour(before), _hour(now_ms())}
