"""What each `starling` command does, once its flags are parsed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from cluster.cli.progress import BarWatch
from cluster.home_sources import check_not_mixing
from cluster.runtime.session import online_store_runtime, ray_runtime
from cluster.step_progress import Watch, describe_features, describe_ingest, describe_model
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from core.storage import read_manifest
from ingest.lake.job import ingest_source
from ingest.lake.sources.event_log import EventLogOptions, parse_mapping
from ingest.lake.sources.spec import SourceError
from ingest.synth.generate import SynthConfig, generate

# Serving, training and evaluation modules import torch and ray.serve, the features job its
# own libraries: they are imported in the commands that use them, so `starling ingest` starts
# in two seconds, not in three or in tens.


def say(line: str) -> None:
    """User-facing output of the CLI."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message: str) -> int:
    sys.stderr.write(f"starling: error: {message}\n")
    return 1


# Settings fields that flags of the same name override.
TOP_FLAGS = ("home", "http_host", "http_port", "ray_address", "ray_dashboard")


def settings_from(args: argparse.Namespace, **nested: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    flags = vars(args)
    top = {k: flags[k] for k in TOP_FLAGS if k in flags}
    return Settings(**top, **{k: v for k, v in nested.items() if v})


def wants_json(args: argparse.Namespace) -> bool:
    return bool(vars(args).get("json"))


def watch_for(args: argparse.Namespace) -> Watch:
    """Progress bars on a terminal; nothing for `--json` or a redirected stderr."""
    if wants_json(args) or not sys.stderr.isatty():
        return Watch()
    return BarWatch(sys.stderr)


def finish(args: argparse.Namespace, result: BaseModel, line: str) -> None:
    """The command's result: its JSON with `--json`, else one line for people."""
    say(result.model_dump_json(indent=2) if wants_json(args) else line)


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


def synth(args: argparse.Namespace) -> int:
    config = SynthConfig(users=args.users, items=args.items, ratings=args.ratings, seed=args.seed)
    summary = generate(config, args.out, progress=watch_for(args).synth())
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
        summary = ingest_source(settings, paths, source, options, watch_for(args).ingest())
    finish(args, summary, describe_ingest(summary))
    return 0


def features(args: argparse.Namespace) -> int:
    from ingest.features.job import build_features
    from ingest.features.online_publish import publish_online

    settings = settings_from(args)
    paths = StarlingPaths.of(settings)
    if read_manifest(paths.events) is None:
        raise SourceError(f"no lake in {paths.lake}; run `starling ingest` first")
    watch = watch_for(args)
    with online_store_runtime(settings), ray_runtime(settings):
        with watch.running("features"):
            summary = build_features(settings, paths)
        with watch.running("online"):
            users = publish_online(settings, paths, OnlineStore(settings.resolved_redis_url()))
    finish(args, summary, describe_features(summary))
    say(f"published {users:,} user profiles to Redis")
    return 0


def train_recall(args: argparse.Namespace) -> int:
    from cluster.pipeline import recall_epochs
    from recall_service.registry import recall_model

    name = args.model if "model" in vars(args) else Settings().recall_model
    trainer = recall_model(name)
    settings = settings_from(args, train=train_overrides(args), **{name: _epochs(args)})
    watch = watch_for(args)
    with ray_runtime(settings), watch.epochs("train recall", recall_epochs(settings, name)):
        manifest = trainer.train(settings, StarlingPaths.of(settings))
    finish(args, manifest, describe_model(manifest))
    return 0


def train_rank(args: argparse.Namespace) -> int:
    from rank_service.training.train import train_rank as train_rank_model

    rank = {**_epochs(args), **({"model": args.model} if "model" in vars(args) else {})}
    settings = settings_from(args, train=train_overrides(args), rank=rank)
    watch = watch_for(args)
    with ray_runtime(settings), watch.epochs("train rank", settings.rank.epochs):
        manifest = train_rank_model(settings, StarlingPaths.of(settings))
    finish(args, manifest, describe_model(manifest))
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
