"""`starling up`'s offline part: run every step whose outputs are missing or stale."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from cluster.home_sources import SYNTH_STAMP, check_not_mixing
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import Settings
from core.storage import fingerprint, is_fresh
from ingest.features.job import build_features, feature_inputs
from ingest.features.online_publish import publish_online
from ingest.lake.job import ingest_source
from ingest.lake.versions import count_rows
from ingest.synth.generate import SynthConfig, generate
from rank_service.training.train import train_rank
from recall_service.registry import recall_model

# The metrics `starling up` prints for a freshly trained model; all are in its manifest.
HEADLINE_METRICS = ("hit_rate_at_50", "popular_hit_rate_at_50", "roc_auc", "log_loss")


class StepReport(BaseModel):
    """One line of `starling up`'s progress."""

    step: str
    ran: bool
    detail: str
    seconds: float


Reporter = Callable[[StepReport], None]


def _timed(step: str, report: Reporter, work: Callable[[], str]) -> None:
    started = time.perf_counter()
    detail = work()
    report(StepReport(step=step, ran=True, detail=detail, seconds=time.perf_counter() - started))


def _skipped(step: str, report: Reporter, why: str) -> None:
    report(StepReport(step=step, ran=False, detail=why, seconds=0.0))


def synth_config(settings: Settings) -> SynthConfig:
    return SynthConfig(
        users=settings.data.synth_users,
        items=settings.data.synth_items,
        ratings=settings.data.synth_ratings,
        seed=settings.train.seed,
    )


def ensure_synthetic(settings: Settings, paths: StarlingPaths, report: Reporter) -> Path:
    """The synthetic data set of these settings, generated unless it already exists."""
    config = synth_config(settings)
    stamp = paths.data_dir / SYNTH_STAMP
    if stamp.is_file() and SynthConfig.model_validate_json(stamp.read_text()) == config:
        _skipped("synth", report, f"fresh: {paths.data_dir}")
        return paths.data_dir

    def work() -> str:
        summary = generate(config, paths.data_dir)
        stamp.write_text(config.model_dump_json())
        return f"{summary.ratings:,} ratings, {summary.users:,} users, {summary.items:,} items"

    _timed("synth", report, work)
    return paths.data_dir


def _source(
    settings: Settings, paths: StarlingPaths, data: Path | None, report: Reporter, mix: bool
) -> Path | None:
    """What to ingest: `data` when given (never into a synthetic lake unless `mix`); else the
    synthetic set, unless the home's lake holds events of its own (ingested by hand, or landed
    from the live stream), which it serves as they are instead of mixing made-up users into
    them."""
    if data is not None:
        check_not_mixing(paths, data, mix)
        return data
    held = count_rows(paths.events)
    if held and not (paths.data_dir / SYNTH_STAMP).is_file():
        _skipped("synth", report, f"the lake holds {held:,} events of its own sources")
        return None
    return ensure_synthetic(settings, paths, report)


def _ingest(settings: Settings, paths: StarlingPaths, source: Path) -> str:
    summary = ingest_source(settings, paths, source)
    if summary.rows_read == 0:
        return f"nothing new in {source}; lake holds {summary.lake_rows:,} events"
    bad = sum(summary.quarantined.values())
    return f"{summary.accepted:,} accepted, {bad:,} quarantined, {summary.lake_rows:,} in lake"


def run_pipeline(
    settings: Settings, data: Path | None, report: Reporter, mix: bool = False
) -> None:
    """Data -> lake -> features -> online store -> recall and rank models."""
    paths = StarlingPaths.of(settings)
    paths.ensure()
    source = _source(settings, paths, data, report, mix)
    if source is not None:
        _timed("ingest", report, lambda: _ingest(settings, paths, source))

    if is_fresh(paths.train_samples, feature_inputs(paths)):
        _skipped("features", report, "fresh")
    else:
        _timed("features", report, lambda: _describe(build_features(settings, paths)))

    store = OnlineStore(settings.resolved_redis_url())
    if store.snapshot() == fingerprint(paths.user_features):
        _skipped("online", report, "fresh")
    else:
        _timed("online", report, lambda: f"{publish_online(settings, paths, store):,} users")

    registry = Registry(paths.registry)
    trainer = recall_model(settings.recall_model)
    recall = registry.latest("recall", settings.recall_model)
    if recall is not None and recall.data_snapshot == fingerprint(trainer.data(paths)):
        _skipped("train recall", report, f"fresh: {recall.name} {recall.version}")
    else:
        _timed("train recall", report, lambda: _describe_model(trainer.train(settings, paths)))

    rank = registry.latest("rank", settings.rank.model)
    if rank is not None and rank.data_snapshot == fingerprint(paths.train_samples):
        _skipped("train rank", report, f"fresh: {rank.name} {rank.version}")
    else:
        _timed("train rank", report, lambda: _describe_model(train_rank(settings, paths)))


def _describe(summary: BaseModel) -> str:
    return ", ".join(f"{k}={v}" for k, v in summary.model_dump().items() if not isinstance(v, dict))


def _describe_model(manifest: ModelManifest) -> str:
    headline = [m for m in HEADLINE_METRICS if m in manifest.metrics]
    shown = ", ".join(f"{k}={manifest.metrics[k]:.4f}" for k in headline)
    return f"{manifest.name} {manifest.version} ({shown})"
