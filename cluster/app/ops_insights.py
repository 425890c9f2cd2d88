"""What the ops page shows beside the live status, read from the home without Ray: the plots the
pipeline drew, the model versions with the gate's verdict on each, and the A/B report."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from cluster.control.model_decisions import serving_ref
from core.decisions import Action, Decision, list_decisions
from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.registry import ModelKind, ModelRef, Registry
from core.settings import Settings
from core.storage import fingerprint
from evaluation.abtest import VariantReport, read_feedback, variant_reports

# The plots `starling features`, `starling eval` and `starling train rank` write: name, title,
# and where they live (the stats folder, or the serving ranker's registry version).
STATS_PLOTS = {
    "daily_activity": ("Events per day", "daily_activity.png"),
    "rating_histogram": ("Ratings", "rating_histogram.png"),
    "long_tail": ("Item popularity (long tail)", "long_tail.png"),
    "recall_eval": ("Recall evaluation", "recall_eval.png"),
    "rank_roc": ("Rankers' ROC curves", "rank_roc.png"),
}
RANK_CURVES = "rank_curves"
RANK_CURVES_FILE = "curves.png"
# A/B reports by (lake, its commit's fingerprint, window in seconds); a few windows at most.
_AB_REPORTS: dict[tuple[str, str, float], AbReport] = {}
_AB_REPORTS_KEPT = 8


class Plot(BaseModel):
    name: str
    title: str
    source: str = Field(description="what drew it")


class Verdict(BaseModel):
    """The newest recorded decision about one version."""

    action: Action
    reasons: list[str]
    created: datetime


class VersionView(BaseModel):
    ref: ModelRef
    created: datetime
    metrics: dict[str, float]
    serving: bool
    verdict: Verdict | None = Field(description="None: no gate judged it")


class AbReport(BaseModel):
    window_hours: float
    variants: list[VariantReport]


def _stats_plots(settings: Settings) -> dict[str, tuple[Plot, StoragePath]]:
    stats = StarlingPaths.of(settings).stats
    return {
        name: (Plot(name=name, title=title, source="pipeline"), stats / file)
        for name, (title, file) in STATS_PLOTS.items()
    }


def _rank_curves(settings: Settings) -> tuple[Plot, StoragePath] | None:
    """The serving ranker's training curves (asking the running app which version serves)."""
    ref = serving_ref(settings, "rank")
    if ref is None:
        return None
    curves = StarlingPaths.of(settings).registry / ref.kind / ref.name / ref.version
    title = f"Training curves of rank {ref.name} {ref.version}"
    return Plot(name=RANK_CURVES, title=title, source="training"), curves / RANK_CURVES_FILE


def available_plots(settings: Settings) -> list[Plot]:
    """The plots that exist in this home, in the order the page shows them."""
    found = [*_stats_plots(settings).values(), _rank_curves(settings)]
    return [entry[0] for entry in found if entry is not None and entry[1].is_file()]


def plot_png(settings: Settings, name: str) -> bytes | None:
    """The PNG of one plot; None when it is not known or not drawn yet. Only the training
    curves ask the app which ranker serves: any other name is answered from the home alone."""
    entry = _rank_curves(settings) if name == RANK_CURVES else _stats_plots(settings).get(name)
    if entry is None or not entry[1].is_file():
        return None
    return entry[1].read_bytes()


def versions(settings: Settings, kind: ModelKind, limit: int = 12) -> list[VersionView]:
    """The newest registered versions of `kind`, newest first, each with the gate's newest
    verdict on it and whether it serves (in the running app when this process reaches one)."""
    registry = Registry(StarlingPaths.of(settings).registry)
    serving = serving_ref(settings, kind)
    verdicts: dict[ModelRef, Decision] = {}
    for decision in list_decisions(StarlingPaths.of(settings).registry, kind):
        verdicts[decision.candidate] = decision
    manifests = []
    for name in registry.names(kind):
        for version in registry.versions(kind, name):
            with contextlib.suppress(ValueError):
                manifests.append(registry.manifest(ModelRef(kind=kind, name=name, version=version)))
    manifests.sort(key=lambda m: m.created, reverse=True)
    views = []
    for manifest in manifests[:limit]:
        ref = manifest.ref()
        decision = verdicts.get(ref)
        verdict = (
            Verdict(action=decision.action, reasons=decision.reasons, created=decision.created)
            if decision is not None
            else None
        )
        views.append(
            VersionView(
                ref=ref,
                created=manifest.created,
                metrics=manifest.metrics,
                serving=ref == serving,
                verdict=verdict,
            )
        )
    return views


def ab_report(settings: Settings, window: timedelta) -> AbReport:
    """`starling abtest report`'s numbers: per variant, click-through and rating rates after an
    impression with 95 % Wilson intervals, from the lake's events. Kept per replica until the
    lake commits again: each report reads every impression, click and rating in the lake, and
    an open ops page asks again every few seconds."""
    lake = StarlingPaths.of(settings).events
    key = (str(lake), fingerprint(lake), window.total_seconds())
    report = _AB_REPORTS.get(key)
    if report is None:
        events = read_feedback(lake)
        report = AbReport(
            window_hours=window.total_seconds() / 3600, variants=variant_reports(events, window)
        )
        if len(_AB_REPORTS) >= _AB_REPORTS_KEPT:
            _AB_REPORTS.clear()
        _AB_REPORTS[key] = report
    return report
