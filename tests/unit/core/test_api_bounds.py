from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from cluster.app.ops_routes import PromoteRequest
from core.api import MAX_EXCLUDED, RecommendRequest
from core.event_api import EventIn
from core.registry import ModelRef


def _event(ts: datetime) -> EventIn:
    return EventIn(user_id=1, item_id=2, event_type="click", ts=ts)


def test_an_event_from_the_future_is_refused_beyond_an_hour_of_clock_skew() -> None:
    now = datetime.now(UTC)
    assert _event(now + timedelta(minutes=30)).ts is not None
    with pytest.raises(ValidationError, match="in the future"):
        _event(now + timedelta(hours=2))
    with pytest.raises(ValidationError, match="in the future"):
        _event(datetime(2199, 1, 1))
    # Another zone's wall clock two hours ahead of UTC is now, not the future.
    ahead = timezone(timedelta(hours=2))
    assert _event(datetime.now(ahead)).ts is not None


def test_a_recommend_request_names_a_bounded_number_of_short_things() -> None:
    RecommendRequest(user_id=1, exclude=list(range(MAX_EXCLUDED)), genre="Drama")
    with pytest.raises(ValidationError):
        RecommendRequest(user_id=1, exclude=list(range(MAX_EXCLUDED + 1)))
    with pytest.raises(ValidationError):
        RecommendRequest(user_id=1, genre="x" * 65)
    with pytest.raises(ValidationError):
        RecommendRequest(user_id=1, variants={f"e{n}": "v" for n in range(33)})
    with pytest.raises(ValidationError, match="at most 64"):
        RecommendRequest(user_id=1, variants={"ranker": "v" * 65})


@pytest.mark.parametrize("name", ["../recall/item2vec", "mlp/../../x", "", "MLP", "a" * 65])
def test_a_model_name_that_is_not_a_plain_folder_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        PromoteRequest(kind="rank", name=name, version="v1")
    with pytest.raises(ValidationError):
        ModelRef(kind="rank", name=name, version="v1")


def test_a_version_is_v_and_a_number() -> None:
    assert PromoteRequest(kind="rank", name="deep_fm2", version="v12").version == "v12"
    for version in ("v1/../v2", "..", "12"):
        with pytest.raises(ValidationError):
            PromoteRequest(kind="rank", name="mlp", version=version)
    with pytest.raises(ValidationError):
        ModelRef(kind="rank", name="mlp", version="../v1")
