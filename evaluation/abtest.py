"""`starling abtest report`: per-variant click-through and rating-after-impression rates.

An impression counts as clicked (rated) when the same user clicks (rates) the same item within
`window` after it. Rates come with 95 % Wilson score intervals, which stay inside [0, 1] and
behave for small counts and rates near 0.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
from pydantic import BaseModel

from core.events import IMPRESSION, impression_variants
from core.filesystem import StoragePath, read_parquet
from core.storage import committed

_Z95 = 1.959964


class Rate(BaseModel):
    successes: int
    trials: int
    rate: float
    low: float
    high: float

    @classmethod
    def wilson(cls, successes: int, trials: int) -> Rate:
        if trials == 0:
            return cls(successes=0, trials=0, rate=0.0, low=0.0, high=1.0)
        p = successes / trials
        z2 = _Z95**2
        centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
        half = _Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials**2)) / (1 + z2 / trials)
        return cls(
            successes=successes,
            trials=trials,
            rate=p,
            low=max(0.0, centre - half),
            high=min(1.0, centre + half),
        )

    def __str__(self) -> str:
        return f"{self.rate:7.2%} [{self.low:6.2%}, {self.high:6.2%}]"


class VariantReport(BaseModel):
    experiment: str
    variant: str
    users: int
    impressions: int
    ctr: Rate
    rating_rate: Rate
    mean_rating: float | None


def read_feedback(events_lake: StoragePath) -> pd.DataFrame:
    """Impressions, clicks and ratings from the lake's events table."""
    if not committed(events_lake).is_dir():
        return pd.DataFrame(columns=["user_id", "item_id", "event_type", "value", "ts", "source"])
    return read_parquet(
        committed(events_lake),
        columns=["event_id", "user_id", "item_id", "event_type", "value", "ts", "source"],
        filters=[("event_type", "in", [IMPRESSION, "click", "rating"])],
    ).to_pandas()


def _converted(impressions: pd.DataFrame, actions: pd.DataFrame, window: timedelta) -> pd.Series:
    """Per impression (index), whether an action on its item followed within `window`, and the
    first such action's value (NaN when none)."""
    joined = impressions.reset_index().merge(
        actions[["user_id", "item_id", "ts", "value"]],
        on=["user_id", "item_id"],
        suffixes=("", "_action"),
    )
    after = joined[
        (joined["ts_action"] >= joined["ts"]) & (joined["ts_action"] <= joined["ts"] + window)
    ]
    first = after.sort_values("ts_action").drop_duplicates("index")
    return first.set_index("index")["value_action"].reindex(impressions.index)


def variant_reports(events: pd.DataFrame, window: timedelta) -> list[VariantReport]:
    """One report per (experiment, variant) seen in the impressions, sorted by name."""
    shown = events[events["event_type"] == IMPRESSION].reset_index(drop=True)
    clicks = events[events["event_type"] == "click"]
    ratings = events[events["event_type"] == "rating"]
    clicked = _converted(shown, clicks, window).notna()
    rating = _converted(shown, ratings, window)
    assignments = shown["source"].map(impression_variants)
    reports = []
    pairs = sorted({pair for variants in assignments for pair in variants.items()})
    for experiment, variant in pairs:
        mine = assignments.map(lambda v, e=experiment, n=variant: v.get(e) == n)
        rated = rating[mine].dropna()
        reports.append(
            VariantReport(
                experiment=experiment,
                variant=variant,
                users=int(shown.loc[mine, "user_id"].nunique()),
                impressions=int(mine.sum()),
                ctr=Rate.wilson(int(clicked[mine].sum()), int(mine.sum())),
                rating_rate=Rate.wilson(len(rated), int(mine.sum())),
                mean_rating=float(rated.mean()) if len(rated) else None,
            )
        )
    return reports


def report_table(reports: list[VariantReport], window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    lines = [
        f"clicks and ratings within {hours:g} h of an impression; 95 % Wilson intervals",
        f"{'experiment':<14} {'variant':<12} {'users':>6} {'impr.':>7}  "
        f"{'click-through':<26} {'rated after impression':<26} {'mean rating':>11}",
    ]
    for r in reports:
        mean = f"{r.mean_rating:.2f}" if r.mean_rating is not None else "-"
        lines.append(
            f"{r.experiment:<14} {r.variant:<12} {r.users:>6} {r.impressions:>7}  "
            f"{r.ctr!s:<26} {r.rating_rate!s:<26} {mean:>11}"
        )
    if not reports:
        lines.append("no impressions in the lake; run `starling events consume` first")
    return "\n".join(lines)
