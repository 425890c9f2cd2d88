"""What the `starling` commands that operate the app do: models, scaling, the event stream,
A/B reports and the KubeRay manifests, once their flags are parsed."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import redis

from cluster.cli.commands import fail, say, settings_from, train_overrides
from cluster.runtime.session import online_store_runtime, ray_runtime
from core.decisions import Decision, list_decisions
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, ModelRef, Registry
from core.settings import Settings
from evaluation.abtest import read_feedback, report_table, variant_reports
from ingest.stream.consumer import consume_events as consume_stream

if TYPE_CHECKING:
    from cluster.control.operations import AppStatus

# Modules that import torch or ray.serve are imported in the commands that use them (see
# cluster.cli.commands).

# The newest decisions `models list` prints.
DECISIONS_SHOWN = 10


def models_list(args: argparse.Namespace) -> int:
    from cluster.app.build import NothingToServeError, serving_refs

    settings = settings_from(args)
    registry = Registry(StarlingPaths.of(settings).registry)
    decisions = [d for kind in ("recall", "rank") for d in list_decisions(registry.root, kind)]
    judged = {d.candidate: d.action for d in decisions if d.action != "rolled_back"}
    try:
        serving = set(serving_refs(settings).values())
    except (NothingToServeError, ModelNotFoundError):
        serving = {ref for kind in ("recall", "rank") if (ref := registry.serving(kind))}
    manifests = [
        registry.manifest(ref)
        for kind in ("recall", "rank")
        for name in registry.names(kind)
        for ref in (
            ModelRef(kind=kind, name=name, version=v) for v in registry.versions(kind, name)
        )
    ]
    if args.json:
        rows = [
            {
                **m.model_dump(mode="json"),
                "serving": m.ref() in serving,
                "decision": judged.get(m.ref()),
            }
            for m in manifests
        ]
        say(json.dumps(rows, indent=2))
        return 0
    if not manifests:
        say(f"no models in {registry.root}; run `starling train recall` and `starling train rank`")
        return 0
    for m in manifests:
        mark = "*" if m.ref() in serving else " "
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in sorted(m.metrics.items()))
        gate = f"[{judged[m.ref()]}]  " if m.ref() in judged else ""
        say(
            f"{mark} {m.kind:<6} {m.name:<10} {m.version:<4} {m.created:%Y-%m-%d %H:%M}  "
            f"{gate}{metrics}"
        )
    say("* serves")
    if decisions:
        say("decisions (newest last):")
        for decision in sorted(decisions, key=lambda d: d.created)[-DECISIONS_SHOWN:]:
            say(describe_decision(decision))
    return 0


def describe_decision(decision: Decision) -> str:
    """One line: when, what happened to which version, against what, and why."""
    was = (
        f" (serving {decision.serving.name} {decision.serving.version})" if decision.serving else ""
    )
    ref = decision.candidate
    line = f"  {decision.created:%Y-%m-%d %H:%M:%S} {decision.kind} {ref.name} {ref.version} "
    return f"{line}{decision.action}{was}: {'; '.join(decision.reasons)}"


def models_rollback(args: argparse.Namespace) -> int:
    from cluster.control.deploy import connected
    from cluster.control.model_decisions import rollback

    settings = settings_from(args)
    with connected(settings):
        decision = rollback(settings, args.kind)
    say(describe_decision(decision))
    if decision.action == "refused":
        return 1
    say(
        "the running app swapped it in"
        if decision.live
        else "no running app found; the next `starling up` / `starling serve` serves it"
    )
    return 0


def learn(args: argparse.Namespace) -> int:
    from cluster.control.deploy import connected
    from cluster.online.schedule import NothingLearntError, learn_round

    settings = settings_from(args, train=train_overrides(args), online=_online_overrides(args))
    paths = StarlingPaths.of(settings)
    interval = settings.online.interval
    with (
        connected(settings) as app_cluster,
        nullcontext() if app_cluster else ray_runtime(settings),
    ):
        while True:
            try:
                done = learn_round(settings, paths, say)
            except NothingLearntError as error:
                if not interval:
                    raise
                say(str(error))
            else:
                for kind, why in done.skipped.items():
                    say(f"{kind}: nothing learnt: {why}")
                for result in done.results:
                    shown = " (samples rebuilt first)" if result.features_rebuilt else ""
                    say(f"learnt {result.decision.kind} in {result.seconds:.1f} s{shown}")
                    say(describe_decision(result.decision))
            if not interval:
                return 0
            say(f"next run in {interval:g} s (Ctrl-C stops)")
            _sleep(interval)


def _online_overrides(args: argparse.Namespace) -> dict[str, Any]:
    flags = vars(args)
    return {key: flags[key] for key in ("epochs", "interval") if key in flags}


def _sleep(seconds: float) -> None:
    # Short sleeps: a signal that lands on one of Ray's threads reaches Python only when the
    # main thread wakes up.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))


def models_promote(args: argparse.Namespace) -> int:
    from cluster.control.deploy import connected
    from cluster.control.operations import promote

    settings = settings_from(args)
    with connected(settings):
        done = promote(settings, args.kind, args.name, args.version)
    was = f" (was {done.previous.name} {done.previous.version})" if done.previous else ""
    say(f"{args.kind} {args.name} {args.version} now serves{was}")
    if done.live:
        say("the running app swapped it in on its replicas without restarting them")
    else:
        say("no running app found; the next `starling up` / `starling serve` serves it")
    return 0


def scale(args: argparse.Namespace) -> int:
    from cluster.control.deploy import connected
    from cluster.control.operations import scale as scale_deployment

    settings = settings_from(args)
    flags = vars(args)
    with connected(settings):
        status = scale_deployment(
            settings,
            args.deployment,
            num_replicas=flags.get("replicas"),
            min_replicas=flags.get("min"),
            max_replicas=flags.get("max"),
        )
    if status is None:
        say(f"no running app found; {args.deployment}'s new replicas apply at the next deploy")
    else:
        show_deployments(status)
    return 0


def show_deployments(status: AppStatus) -> None:
    say(f"{'deployment':<10} {'status':<9} {'running':>7} {'target':>6} {'bounds':>7}  serves")
    for d in status.deployments.values():
        bounds = f"{d.min_replicas}..{d.max_replicas}"
        serves = f"{d.user_config['name']} {d.user_config['version']}" if d.user_config else ""
        say(
            f"{d.name:<10} {d.status:<9} {d.running_replicas:>7} {d.target_replicas:>6} "
            f"{bounds:>7}  {serves}"
        )


@contextmanager
def _redis(settings: Settings) -> Iterator[OnlineStore]:
    """The Redis a running app uses, or the embedded one started for this command."""
    store = OnlineStore(settings.resolved_redis_url())
    try:
        running = store.ping()
    except redis.ConnectionError:
        running = False
    if running:
        yield store
        return
    with online_store_runtime(settings):
        yield store


def consume_events(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _redis(settings) as store:
        paths = StarlingPaths.of(settings)
        summary = consume_stream(store, paths.events, paths.quarantine, settings.stream)
    say(
        f"landed {summary.added:,} new events of {summary.read:,} read "
        f"({summary.redelivered:,} redelivered, {summary.quarantined:,} quarantined, "
        f"{summary.dropped:,} dropped by the stream's cap before landing); the lake holds "
        f"{summary.lake_rows:,}; {summary.trimmed:,} landed entries trimmed from the stream"
    )
    return 0


def abtest_report(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    window = timedelta(hours=args.window_hours)
    events = read_feedback(StarlingPaths.of(settings).events)
    say(report_table(variant_reports(events, window), window))
    return 0


def k8s_render(args: argparse.Namespace) -> int:
    from cluster.control.k8s_render import RAYSERVICE_MANIFEST, ClusterTarget, render
    from cluster.control.serve_config import DEFAULT_CONFIG

    args.manifest = args.manifest or RAYSERVICE_MANIFEST
    args.config = args.config or DEFAULT_CONFIG
    args.cluster_home = args.cluster_home or ClusterTarget().home
    result = render(args.manifest, args.config, ClusterTarget(home=args.cluster_home))
    if args.check:
        if result.changed:
            return fail(
                f"{args.manifest}: serveConfigV2 differs from {args.config}; "
                "run `starling k8s render`"
            )
        say(f"{args.manifest} matches {args.config}")
        return 0
    if result.changed:
        args.manifest.write_text(result.text)
        say(f"wrote serveConfigV2 of {args.manifest} from {args.config}")
    else:
        say(f"{args.manifest} already matches {args.config}")
    return 0
