"""What each `starling` command does, once its flags are parsed."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from cluster.home_sources import check_not_mixing
from cluster.runtime.session import (
    full_runtime,
    interrupt_on_signals,
    online_store_runtime,
    ray_runtime,
)
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from core.storage import read_manifest
from ingest.features.job import build_features
from ingest.features.online_publish import publish_online
from ingest.lake.job import ingest_source
from ingest.lake.sources.event_log import EventLogOptions, parse_mapping
from ingest.lake.sources.spec import SourceError
from ingest.synth.generate import SynthConfig, generate

if TYPE_CHECKING:
    from cluster.pipeline import StepReport

# Serving, training and evaluation modules import torch and ray.serve: they are imported in the
# commands that use them, so `starling ingest` or `features` starts in a second, not in tens.


def say(line: str) -> None:
    """User-facing output of the CLI."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message: str) -> int:
    sys.stderr.write(f"starling: error: {message}\n")
    return 1


def settings_from(args: argparse.Namespace, **nested: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    flags = vars(args)
    top = {k: flags[k] for k in ("home", "http_host", "http_port", "ray_address") if k in flags}
    return Settings(**top, **{k: v for k, v in nested.items() if v})


def train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    flags = vars(args)
    out: dict[str, Any] = {}
    if "workers" in flags:
        out["workers"] = flags["workers"]
    if "gpu" in flags:
        out["use_gpu"] = True
    return out


def _epochs(args: argparse.Namespace) -> dict[str, Any]:
    return {"epochs": args.epochs} if "epochs" in vars(args) else {}


def report_step(step: StepReport) -> None:
    mark = "✓" if step.ran else "·"
    timing = f" ({step.seconds:.1f} s)" if step.ran else ""
    say(f"{mark} {step.step:<13} {step.detail}{timing}")


def synth(args: argparse.Namespace) -> int:
    config = SynthConfig(users=args.users, items=args.items, ratings=args.ratings, seed=args.seed)
    summary = generate(
        config, args.out, progress=lambda done, total: say(f"  {done:,} / {total:,} ratings")
    )
    say(
        f"wrote {summary.ratings:,} ratings of {summary.users:,} users on {summary.items:,} items "
        f"to {summary.out_dir} in {summary.seconds:.1f} s"
    )
    return 0


def _rating_range(args: argparse.Namespace) -> dict[str, Any]:
    if "rating_range" not in vars(args):
        return {}
    low, _, high = args.rating_range.partition(",")
    try:
        return {"rating_min": float(low), "rating_max": float(high)}
    except ValueError:
        raise SourceError(f"--rating-range {args.rating_range!r}: expected MIN,MAX") from None


def _log_options(args: argparse.Namespace) -> EventLogOptions:
    flags = vars(args)
    return EventLogOptions(
        mapping=parse_mapping(flags.get("map", "")),
        ts_unit=flags.get("ts_unit", "s"),
        ts_format=flags.get("ts_format"),
    )


def ingest(args: argparse.Namespace) -> int:
    settings = settings_from(args, data=_rating_range(args))
    paths = StarlingPaths.of(settings)
    source = args.source or paths.data_dir
    options = _log_options(args)
    check_not_mixing(paths, source, args.mix)
    with ray_runtime(settings):
        summary = ingest_source(settings, paths, source, options)
    say(summary.model_dump_json(indent=2))
    return 0


def features(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    paths = StarlingPaths.of(settings)
    if read_manifest(paths.events) is None:
        raise SourceError(f"no lake in {paths.lake}; run `starling ingest` first")
    with online_store_runtime(settings), ray_runtime(settings):
        summary = build_features(settings, paths)
        users = publish_online(settings, paths, OnlineStore(settings.resolved_redis_url()))
    say(summary.model_dump_json(indent=2))
    say(f"published {users:,} user profiles to Redis")
    return 0


def train_recall(args: argparse.Namespace) -> int:
    from recall_service.registry import recall_model

    name = args.model if "model" in vars(args) else Settings().recall_model
    trainer = recall_model(name)
    settings = settings_from(args, train=train_overrides(args), **{name: _epochs(args)})
    with ray_runtime(settings):
        manifest = trainer.train(settings, StarlingPaths.of(settings))
    say(manifest.model_dump_json(indent=2))
    return 0


def train_rank(args: argparse.Namespace) -> int:
    from rank_service.training.train import train_rank as train_rank_model

    rank = {**_epochs(args), **({"model": args.model} if "model" in vars(args) else {})}
    settings = settings_from(args, train=train_overrides(args), rank=rank)
    with ray_runtime(settings):
        manifest = train_rank_model(settings, StarlingPaths.of(settings))
    say(manifest.model_dump_json(indent=2))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from evaluation.cutoff_store import CutoffStore
    from evaluation.rank.compare import compare_rank_models
    from evaluation.recall.run import evaluate_recall
    from evaluation.replay import recommend_lists

    settings = settings_from(args)
    paths = StarlingPaths.of(settings)
    if args.split != "global" and args.kind != "recall":
        return fail("--split applies to `starling eval recall` only")
    if args.kind == "recall":

        def replay(store: CutoffStore, users: Sequence[int], k: int) -> list[list[int]]:
            return recommend_lists(settings, paths, store, users, k)

        evaluation = evaluate_recall(
            settings, paths, model=args.model, pipeline=replay, split=args.split
        )
        say(evaluation.to_table())
        say(f"saved to {paths.stats}")
        return 0
    if args.kind == "rank":
        comparison = compare_rank_models(settings, paths, args.models, args.random_split)
        say(comparison.table())
        say(f"saved to {paths.stats}")
        return 0
    registry = Registry(paths.registry)
    for kind in ("recall", "rank"):
        ref = registry.serving(kind)
        if ref is None:
            say(f"{kind:<7} no model; run `starling train {kind}`")
            continue
        manifest = registry.manifest(ref)
        say(f"{kind:<7} {ref.name} {ref.version}")
        for name, value in sorted(manifest.metrics.items()):
            say(f"          {name:<24} {value:.4f}")
    return 0


def _serve_forever(settings: Settings) -> None:
    from cluster.control.deploy import deploy, forget_address

    try:
        _announce_and_wait(deploy(settings))
    finally:
        forget_address(settings)


def _announce_and_wait(url: str) -> None:
    # Ray Train installs its own SIGINT handler during fit() and leaves it behind.
    interrupt_on_signals()
    say(f"Starling is up at {url}  (Ctrl-C stops it)")
    say(
        f"  curl -s -X POST {url}/recommend -H 'content-type: application/json' "
        '-d \'{"user_id": 1, "k": 10}\''
    )
    say(f"  API docs: {url}/docs")
    # Short sleeps: a signal that lands on one of Ray's threads only reaches the handler when
    # the main thread wakes up.
    while True:
        time.sleep(0.5)


def up(args: argparse.Namespace) -> int:
    from cluster.pipeline import run_pipeline

    settings = settings_from(args)
    say(f"home: {settings.home}")
    try:
        with full_runtime(settings):
            run_pipeline(settings, args.data, report_step, mix=args.mix)
            _serve_forever(settings)
    except KeyboardInterrupt:
        say("stopped")
    return 0


def serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        with full_runtime(settings):
            _serve_forever(settings)
    except KeyboardInterrupt:
        say("stopped")
    return 0


def status(args: argparse.Namespace) -> int:
    from cluster.control.deploy import base_url

    settings = settings_from(args)
    paths = StarlingPaths.of(settings)
    say(f"home      {settings.home}")
    lake = read_manifest(paths.events)
    say(f"lake      {lake.rows.get('events', 0):,} events" if lake else "lake      empty")
    samples = read_manifest(paths.train_samples)
    say(f"features  {samples.created:%Y-%m-%d %H:%M} UTC" if samples else "features  none")
    registry = Registry(paths.registry)
    for kind in ("recall", "rank"):
        ref = registry.serving(kind)
        say(f"{kind:<9} {ref.name} {ref.version}" if ref else f"{kind:<9} none")
    url = base_url(settings)
    try:
        health = httpx.get(f"{url}/healthz", timeout=3)
        say(f"app       {url}: {health.json().get('status', health.status_code)}")
    except httpx.HTTPError:
        say(f"app       {url}: not running")
    return 0
