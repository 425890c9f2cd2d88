"""`starling up`'s offline part: run every step whose outputs are missing or stale."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from cluster.home_sources import SYNTH_STAMP, check_not_mixing
from cluster.step_progress import (
    Reporter,
    StepReport,
    Watch,
    describe_features,
    describe_ingest,
    describe_model,
)
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from core.storage import fingerprint, is_fresh
from ingest.features.job import build_features, feature_inputs
from ingest.features.online_publish import publish_online
from ingest.lake.job import ingest_source
from ingest.lake.versions import count_rows
from ingest.synth.generate import SynthConfig, generate
from rank_service.training.train import train_rank
from recall_service.registry import recall_model


def _timed(
    step: str,
    report: Reporter,
    work: Callable[[], str],
    shown: AbstractContextManager[None] | None = None,
) -> None:
    """Run `work` inside `shown` (its progress bar), then report its line."""
    started = time.perf_counter()
    with shown or nullcontext():
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


def ensure_synthetic(
    settings: Settings, paths: StarlingPaths, report: Reporter, watch: Watch | None = None
) -> Path:
    """The synthetic data set of these settings, generated unless it already exists."""
    config = synth_config(settings)
    stamp = paths.data_dir / SYNTH_STAMP
    if stamp.is_file() and SynthConfig.model_validate_json(stamp.read_text()) == config:
        _skipped("synth", report, f"fresh: {paths.data_dir}")
        return paths.data_dir

    def work() -> str:
        summary = generate(config, paths.data_dir, progress=(watch or Watch()).synth())
        stamp.write_text(config.model_dump_json())
        return f"{summary.ratings:,} ratings of {summary.users:,} users on {summary.items:,} movies"

    _timed("synth", report, work)
    return paths.data_dir


def _source(
    settings: Settings,
    paths: StarlingPaths,
    data: Path | None,
    report: Reporter,
    mix: bool,
    watch: Watch,
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
    return ensure_synthetic(settings, paths, report, watch)


def run_pipeline(
    settings: Settings,
    data: Path | None,
    report: Reporter,
    mix: bool = False,
    watch: Watch | None = None,
) -> None:
    """Data -> lake -> features -> online store -> recall and rank models."""
    watch = watch or Watch()
    paths = StarlingPaths.of(settings)
    paths.ensure()
    source = _source(settings, paths, data, report, mix, watch)
    if source is not None:

        def ingest() -> str:
            return describe_ingest(ingest_source(settings, paths, source, None, watch.ingest()))

        _timed("ingest", report, ingest)

    if is_fresh(paths.train_samples, feature_inputs(paths)):
        _skipped("features", report, "fresh")
    else:

        def features() -> str:
            return describe_features(build_features(settings, paths))

        _timed("features", report, features, watch.running("features"))

    store = OnlineStore(settings.resolved_redis_url())
    if store.snapshot() == fingerprint(paths.user_features):
        _skipped("online", report, "fresh")
    else:

        def online() -> str:
            return f"{publish_online(settings, paths, store):,} user profiles in Redis"

        _timed("online", report, online, watch.running("online"))
    _train_models(settings, paths, report, watch)


def _train_models(settings: Settings, paths: StarlingPaths, report: Reporter, watch: Watch) -> None:
    registry = Registry(paths.registry)
    trainer = recall_model(settings.recall_model)
    recall = registry.latest("recall", settings.recall_model)
    if recall is not None and recall.data_snapshot == fingerprint(trainer.data(paths)):
        _skipped("train recall", report, f"fresh: {recall.name} {recall.version}")
    else:

        def recall_model_trained() -> str:
            return describe_model(trainer.train(settings, paths))

        epochs = watch.epochs("train recall", recall_epochs(settings))
        _timed("train recall", report, recall_model_trained, epochs)

    rank = registry.latest("rank", settings.rank.model)
    if rank is not None and rank.data_snapshot == fingerprint(paths.train_samples):
        _skipped("train rank", report, f"fresh: {rank.name} {rank.version}")
    else:
        epochs = watch.epochs("train rank", settings.rank.epochs)
        _timed("train rank", report, lambda: describe_model(train_rank(settings, paths)), epochs)


def recall_epochs(settings: Settings, name: str | None = None) -> int | None:
    """The epoch limit of recall model `name` (the configured one by default), if it has one."""
    model_settings = getattr(settings, name or settings.recall_model, None)
    return getattr(model_settings, "epochs", None)
