from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.events import LoggedEvent, impressions
from evaluation.abtest import Rate, report_table, variant_reports
from ingest.stream.consumer import events_frame

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _action(user: int, item: int, kind: str, at: datetime, value: float = 1.0) -> LoggedEvent:
    return LoggedEvent(
        event_id=f"{kind}-{user}-{item}-{at:%s}",
        user_id=user,
        item_id=item,
        event_type=kind,
        value=value,
        ts=at,
        source="api",
    )


def _hand_made() -> pd.DataFrame:
    """200 users, one request of 5 items each: 100 in control (even ids), 100 in treatment."""
    events: list[LoggedEvent] = []
    for user in range(200):
        variant = "control" if user % 2 == 0 else "treatment"
        items = [user * 10 + p for p in range(5)]
        events += impressions(f"r{user}", user, items, {"exp": variant, "other": "x"}, T0)
    # Control: 50 clicks and 20 ratings on 500 impressions; treatment: 50 users click 3 items,
    # 50 users click 1, so 200 clicks on 500 impressions.
    control = [u for u in range(200) if u % 2 == 0]
    treatment = [u for u in range(200) if u % 2 == 1]
    for user in control[:50]:
        events.append(_action(user, user * 10, "click", T0 + HOUR))
    for user in control[:20]:
        events.append(_action(user, user * 10, "rating", T0 + 2 * HOUR, 4.0))
    for user in treatment:
        for position in range(3) if user < 100 else range(1):
            events.append(_action(user, user * 10 + position, "click", T0 + HOUR))
    # Feedback that must not count: before the impression, after the window, another item.
    events.append(_action(control[60], control[60] * 10, "click", T0 - HOUR))
    events.append(_action(control[61], control[61] * 10, "click", T0 + 30 * HOUR))
    events.append(_action(control[62], 99_999, "click", T0 + HOUR))
    return events_frame(events)


def test_report_recovers_known_click_through_rates_with_intervals() -> None:
    reports = {(r.experiment, r.variant): r for r in variant_reports(_hand_made(), 24 * HOUR)}
    assert set(reports) == {("exp", "control"), ("exp", "treatment"), ("other", "x")}
    control, treatment = reports["exp", "control"], reports["exp", "treatment"]
    assert (control.users, control.impressions) == (100, 500)
    assert control.ctr.successes == 50 and control.ctr.rate == pytest.approx(0.10)
    treated_clicks = 50 * 3 + 50 * 1
    assert treatment.ctr.successes == treated_clicks
    assert treatment.ctr.rate == pytest.approx(treated_clicks / 500)
    assert control.rating_rate.rate == pytest.approx(20 / 500)
    assert control.mean_rating == pytest.approx(4.0)
    assert treatment.rating_rate.successes == 0 and treatment.mean_rating is None
    assert control.ctr.low < 0.10 < control.ctr.high
    assert control.ctr.high < treatment.ctr.low
    assert reports["other", "x"].impressions == 1000


def test_a_shorter_window_drops_late_feedback() -> None:
    reports = {r.variant: r for r in variant_reports(_hand_made(), timedelta(minutes=90))}
    assert reports["control"].ctr.successes == 50
    assert reports["control"].rating_rate.successes == 0


def test_wilson_interval_matches_the_textbook_value() -> None:
    # 10 of 100: the 95 % Wilson interval is [0.0552, 0.1744].
    rate = Rate.wilson(10, 100)
    assert (rate.low, rate.high) == (
        pytest.approx(0.0552, abs=1e-4),
        pytest.approx(0.1744, abs=1e-4),
    )
    assert Rate.wilson(0, 0).trials == 0


def test_table_names_every_variant() -> None:
    window = 24 * HOUR
    text = report_table(variant_reports(_hand_made(), window), window)
    assert "treatment" in text and "control" in text and "24 h" in text
    assert "no impressions" in report_table([], window)
