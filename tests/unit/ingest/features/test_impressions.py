"""Impressions nobody acted on become label-0 samples, on the hand case (features_hand_case)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from core.data_settings import DataSettings
from core.event_key import text_key
from core.tables import SAMPLES
from ingest.features.impressions import IMPRESSIONS, impression_samples, passed_over
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.latest_features import latest_user_features
from ingest.features.negatives import negative_sampler
from ingest.features.point_in_time import with_item_side, with_user_side
from ingest.features.samples import to_samples
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()
WINDOW_MS = 100
# (name, user, item, ts): what /recommend showed.
SHOWN = [
    ("i1", 1, 40, 250),  # never touched: a negative as of 250
    ("i2", 1, 30, 250),  # e4 rates it at 300, within the window: acted on
    ("i3", 1, 20, 350),  # e8 rates it at 500, after the window: a negative
    ("i4", 2, 40, 900),  # after user 2's last rating (e9 at 600): latest features
    ("i5", 3, 10, 100),  # a user without any interaction: left out
]


def _shown() -> pa.Table:
    return pa.table(
        {
            "event_id": [text_key(s[0]) for s in SHOWN],
            "user_id": [s[1] for s in SHOWN],
            "item_id": [s[2] for s in SHOWN],
            "ts_ms": [s[3] for s in SHOWN],
        },
        schema=IMPRESSIONS,
    )


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    catalog = catalog_attributes(hand_items())
    rows = with_item_side(interaction_rows(hand_events(), catalog, DATA.implicit_rating))
    rated = to_samples(with_user_side(rows, DATA.label_threshold), DATA.label_threshold)
    ignored = passed_over(_shown(), rows, WINDOW_MS)
    latest = latest_user_features(rows, DATA.label_threshold)
    sampler = negative_sampler(rows, 0, 1.0, 7)
    out = impression_samples(rated, ignored, latest, sampler, catalog)
    assert out.schema == SAMPLES
    names = {text_key(s[0]): s[0] for s in SHOWN}
    return {names[row["event_id"]]: row for row in out.to_pylist()}


def test_only_impressions_nobody_acted_on_become_samples(samples: dict[str, Any]) -> None:
    assert sorted(samples) == ["i1", "i3", "i4"]
    for row in samples.values():
        assert row["label"] == 0 and row["rating"] is None and row["negative"] is False


def test_an_impression_sees_its_user_strictly_before_its_moment(samples: dict[str, Any]) -> None:
    first = samples["i1"]
    # e1 (4.0) and e2 (3.0) lie before 250; the click c1 on a rated item counts nowhere.
    assert first["user_rating_count"] == 2 and first["user_avg_rating"] == pytest.approx(3.5)
    assert first["user_recent_items"] == [10]
    assert first["seconds_since_last_event"] == pytest.approx(0.05)
    assert samples["i3"]["user_rating_count"] == 4  # e1, e2, e4, e5
    late = samples["i4"]
    assert late["user_rating_count"] == 4 and late["user_last_ts"] == 600


def test_an_impression_takes_its_items_facts_before_its_moment(samples: dict[str, Any]) -> None:
    never_rated = samples["i1"]
    assert never_rated["item_id"] == 40 and never_rated["release_year"] == 2010
    assert never_rated["item_rating_count"] == 0 and never_rated["item_avg_rating"] == 0.0
    twenty = samples["i3"]
    # Item 20 before 350: e2 (3.0) and e7 is at 400, later.
    assert twenty["item_rating_count"] == 1 and twenty["item_avg_rating"] == pytest.approx(3.0)
    assert twenty["item_genres"] == ["Drama", "War"]
