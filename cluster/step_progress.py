"""What `starling up` and the single-step commands show of a step: its progress while it runs
(a `Watch`) and a line for people once it is done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import BaseModel

# For annotations only: every `starling` command imports this module, and the jobs' modules
# import Ray Data and the features' libraries.
if TYPE_CHECKING:
    from core.registry import ModelManifest
    from ingest.features.job import FeaturesSummary
    from ingest.lake.job import IngestSummary
    from ingest.lake.progress import Progress

# The metrics `starling up` prints for a freshly trained model; all are in its manifest.
HEADLINE_METRICS = ("hit_rate_at_50", "popular_hit_rate_at_50", "roc_auc", "log_loss")


class StepReport(BaseModel):
    """One line of `starling up`'s progress."""

    step: str
    ran: bool
    detail: str
    seconds: float


Reporter = Callable[[StepReport], None]


class Watch:
    """How a step shows itself while it runs. This one shows nothing (tests, `--json`); the
    CLI's progress bars (cluster/cli/progress.py) override it."""

    def synth(self) -> Callable[[int, int], None] | None:
        """A callback for (ratings written, ratings in all)."""
        return None

    def ingest(self) -> Progress | None:
        """The ingest job's progress; None keeps its own phase lines on stderr."""
        return None

    @contextmanager
    def running(self, step: str) -> Iterator[None]:
        """Around a step that reports nothing while it runs."""
        yield

    @contextmanager
    def epochs(self, step: str, total: int | None) -> Iterator[None]:
        """Around a Ray Train run of up to `total` epochs."""
        yield

    def close(self) -> None:
        """Stop what showing the steps started."""


def describe_ingest(summary: IngestSummary) -> str:
    """One line for people: what an ingest run added to the lake."""
    if summary.rows_read == 0:
        return f"nothing new in {summary.source}; the lake holds {summary.lake_rows:,} events"
    bad = sum(summary.quarantined.values())
    return (
        f"{summary.accepted:,} events accepted, {bad:,} quarantined, "
        f"{summary.duplicates:,} duplicates; the lake holds {summary.lake_rows:,}"
    )


def describe_features(summary: FeaturesSummary) -> str:
    """One line for people: what a features run built."""
    return (
        f"{summary.train_samples:,} training and {summary.test_samples:,} test samples "
        f"({summary.negative_samples:,} sampled negatives) from {summary.rating_events:,} "
        f"interactions; {summary.user_features:,} users, {summary.item_features:,} movies; "
        f"test period from {summary.cutoff:%Y-%m-%d}"
    )


# How the headline metrics read in a summary line.
METRIC_NAMES = {
    "hit_rate_at_50": "hit rate@50",
    "popular_hit_rate_at_50": "popular hit rate@50",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
}


def describe_model(manifest: ModelManifest) -> str:
    """One line for people: a trained version and its headline test metrics."""
    shown = ", ".join(
        f"{METRIC_NAMES[k]} {manifest.metrics[k]:.4f}"
        for k in HEADLINE_METRICS
        if k in manifest.metrics
    )
    return f"{manifest.name} {manifest.version}" + (f": {shown}" if shown else "")
