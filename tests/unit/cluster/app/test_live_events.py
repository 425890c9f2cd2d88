from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from cluster.app.live_events import RejectedEventsError, accept_events
from core.event_api import EventBatch
from core.settings import DataSettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CATALOG = {1, 2, 3}


def _batch(*events: dict) -> EventBatch:
    return EventBatch.model_validate({"events": list(events)})


def test_events_get_unique_ids_and_utc_times() -> None:
    local = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    batch = _batch(
        {"user_id": 5, "item_id": 1, "event_type": "rating", "value": 4.5},
        {"user_id": 5, "item_id": 2, "event_type": "click", "ts": local.isoformat()},
        {"user_id": 5, "item_id": 3, "event_type": "view", "ts": "2026-01-01T07:00:00"},
    )
    events = accept_events(batch, CATALOG, DataSettings(), NOW)
    assert len({e.event_id for e in events}) == 3
    assert events[0].ts == NOW
    assert events[1].ts == events[2].ts == datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
    assert [e.value for e in events] == [4.5, 1.0, 1.0]


def test_a_client_named_event_keeps_its_id_and_says_so() -> None:
    batch = _batch(
        {"user_id": 5, "item_id": 1, "event_type": "click", "event_id": "app-17:3"},
        {"user_id": 5, "item_id": 2, "event_type": "click"},
    )
    named, unnamed = accept_events(batch, CATALOG, DataSettings(), NOW)
    assert (named.event_id, named.client_named) == ("app-17:3", True)
    assert unnamed.event_id.startswith("evt-") and not unnamed.client_named
    with pytest.raises(ValidationError):
        _batch({"user_id": 5, "item_id": 1, "event_type": "click", "event_id": "a/b"})


def test_unknown_items_and_out_of_range_ratings_reject_the_whole_batch() -> None:
    batch = _batch(
        {"user_id": 5, "item_id": 1, "event_type": "rating", "value": 4},
        {"user_id": 5, "item_id": 99, "event_type": "click"},
        {"user_id": 5, "item_id": 2, "event_type": "rating", "value": 7},
    )
    with pytest.raises(RejectedEventsError) as error:
        accept_events(batch, CATALOG, DataSettings(), NOW)
    assert "events[1]: no item 99" in str(error.value)
    assert "events[2]: rating 7.0 outside 0.5..5.0" in str(error.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"events": []},
        {"events": [{"user_id": "5", "item_id": 1, "event_type": "click"}]},
        {"events": [{"user_id": -1, "item_id": 1, "event_type": "click"}]},
        {"events": [{"user_id": 2**63, "item_id": 1, "event_type": "click"}]},
        {"events": [{"user_id": 1, "item_id": 1, "event_type": "impression"}]},
        {"events": [{"user_id": 1, "item_id": 1, "event_type": "click", "extra": 1}]},
        {"events": [{"user_id": 1, "item_id": 1, "event_type": "click", "ts": "3000-01-01"}]},
        {"events": [{"user_id": 1, "item_id": 1, "event_type": "rating", "value": float("inf")}]},
        {"events": [], "more": 1},
    ],
)
def test_malformed_batches_fail_validation(bad: dict) -> None:
    with pytest.raises(ValidationError):
        EventBatch.model_validate(bad)
