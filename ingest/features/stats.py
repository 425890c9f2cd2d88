"""Data statistics people look at: daily activity, ratings histogram, item long tail; JSON + PNG."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.filesystem import StoragePath, write_png
from core.storage import OutputManifest, atomic_dir, write_json_atomic, write_manifest
from ingest.features.item_attributes import epoch_ms
from ingest.features.latest_features import MS_PER_DAY

LONG_TAIL_POINTS = 100
DAILY_COLUMNS = ["events", "ratings", "active_users", "active_items"]


def _days(ts_ms: np.ndarray) -> np.ndarray:
    """UTC day numbers (days since 1970-01-01) of epoch milliseconds."""
    return np.floor_divide(ts_ms, MS_PER_DAY)


def daily_counts(batch: pa.Table) -> pa.Table:
    """Events and rating events per day in an EVENTS batch: partial counts that add up."""
    frame = pd.DataFrame(
        {
            "day": _days(epoch_ms(batch["ts"]).to_numpy()),
            "events": 1,
            "ratings": pc.equal(batch["event_type"], "rating").to_numpy(zero_copy_only=False),
        }
    )
    return pa.Table.from_pandas(frame.groupby("day").sum().reset_index(), preserve_index=False)


def daily_distinct(block: pa.Table, key: str, name: str) -> pa.Table:
    """Distinct `key` values per day in a block of RATING_ROWS, as column `name`.

    Only blocks that hold all rows of their keys give counts that add up.
    """
    frame = pd.DataFrame({"day": _days(block["ts_ms"].to_numpy()), key: block[key].to_numpy()})
    counts = frame.drop_duplicates().groupby("day").size().rename(name).reset_index()
    return pa.Table.from_pandas(counts, preserve_index=False)


def daily_activity(partials: list[pa.Table]) -> list[dict[str, Any]]:
    """Per day: events (every type), rating events, users and items with a rating; day order.

    `partials` are per-day partial counts (`daily_counts`, `daily_distinct` of blocks that each
    hold all rows of their keys): counts of the same day and column add up.
    """
    table = pd.concat([partial.to_pandas() for partial in partials]).groupby("day").sum()
    table = table.reindex(columns=DAILY_COLUMNS).fillna(0).sort_index().astype("int64")
    table.insert(0, "date", pd.to_datetime(table.index, unit="D").strftime("%Y-%m-%d"))
    return [
        {k: (v if k == "date" else int(v)) for k, v in row.items()}
        for row in table.to_dict("records")
    ]


def rating_counts(batch: pa.Table) -> pa.Table:
    """How many rows of a batch have each rating: partial counts that add up across batches."""
    counts = pc.value_counts(batch["rating"])
    return pa.table({"rating": counts.field("values"), "count": counts.field("counts")})


def rating_histogram(counts: pa.Table) -> dict[str, int]:
    """How many ratings have each value, keyed by the value as text ("3.5"), from the partial
    counts of `rating_counts`."""
    totals = counts.to_pandas().groupby("rating")["count"].sum().sort_index()
    return {f"{rating:g}": int(count) for rating, count in totals.items()}


def long_tail(counts: np.ndarray, points: int = LONG_TAIL_POINTS) -> list[dict[str, float]]:
    """Share of all ratings held by the most rated share of items, at `points` steps.

    `counts` holds each catalog item's rating count; items are taken most rated first.
    """
    ordered = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    total = ordered.sum()
    if len(ordered) == 0 or total == 0:
        return []
    cumulative = np.cumsum(ordered) / total
    steps = np.unique(np.linspace(1, len(ordered), min(points, len(ordered))).round().astype(int))
    return [
        {"item_share": float(n / len(ordered)), "rating_share": float(cumulative[n - 1])}
        for n in steps
    ]


def build_stats(
    daily: list[pa.Table], rating_value_counts: pa.Table, item_rating_counts: np.ndarray
) -> dict[str, Any]:
    """The stats.json payload.

    `daily` holds per-day partial counts (see `daily_activity`), `rating_value_counts` the
    output of `rating_counts`, `item_rating_counts` every catalog item's rating count.
    """
    return {
        "daily": daily_activity(daily),
        "rating_histogram": rating_histogram(rating_value_counts),
        "long_tail": long_tail(item_rating_counts),
    }


def write_stats(folder: StoragePath, stats: dict[str, Any], manifest: OutputManifest) -> None:
    """stats.json and the plots into `folder`, atomically, with `manifest` committed last."""
    with atomic_dir(folder) as tmp:
        write_json_atomic(tmp / "stats.json", stats)
        manifest.extra["plots"] = write_plots(stats, tmp)
        write_manifest(tmp, manifest)


def write_plots(stats: dict[str, Any], folder: StoragePath) -> list[str]:
    """PNG plots of `stats` into `folder`; returns the file names."""
    import matplotlib

    # Agg renders without a display; chosen here, not at import, so importers keep their backend.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    # Days are too many and too spiky to read over decades: plot weekly means, log scale.
    daily = pd.DataFrame(stats["daily"]).set_index("date")
    daily.index = pd.to_datetime(daily.index)
    weekly = daily.resample("W").mean().dropna()
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, columns in zip(
        axes, (("events", "ratings"), ("active_users", "active_items")), strict=True
    ):
        for column in columns:
            ax.plot(weekly.index, weekly[column], linewidth=0.8, label=column.replace("_", " "))
        ax.set_yscale("log")
        ax.set_ylabel("per active day, weekly mean")
        ax.legend()
    fig.suptitle("Daily activity")
    written.append(_save(fig, folder / "daily_activity.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    histogram = stats["rating_histogram"]
    ax.bar([float(r) for r in histogram], list(histogram.values()), width=0.4)
    ax.set_xlabel("rating")
    ax.set_ylabel("ratings")
    ax.set_title("Rating histogram")
    written.append(_save(fig, folder / "rating_histogram.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    tail = stats["long_tail"]
    ax.plot([p["item_share"] for p in tail], [p["rating_share"] for p in tail])
    ax.set_xlabel("share of items (most rated first)")
    ax.set_ylabel("share of ratings")
    ax.set_title("Item long tail")
    ax.grid(alpha=0.3)
    written.append(_save(fig, folder / "long_tail.png"))
    return written


def _save(fig: Any, path: StoragePath) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    write_png(fig, path)
    plt.close(fig)
    return path.name
