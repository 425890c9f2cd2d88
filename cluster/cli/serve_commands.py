"""`starling up`, `serve` and `status`: run the app in the foreground, and say where it is."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from pydantic import BaseModel

from cluster.cli.commands import say, settings_from, wants_json, watch_for
from cluster.cli.progress import summary_line
from cluster.runtime.local_keys import LocalKeys, ensure_local_keys, keys_path
from cluster.runtime.local_ray import dashboard_url
from cluster.runtime.session import full_runtime, interrupt_on_signals
from cluster.step_progress import Reporter, StepReport
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from core.storage import read_manifest

CONFIGURED_KEYS = "STARLING_ADMIN_API_KEYS / STARLING_WRITE_API_KEYS"


class Endpoints(BaseModel):
    """Where a running app answers, and where its keys and Ray's dashboard are."""

    url: str
    site: str
    ops: str
    docs: str
    keys_file: Path | None
    keys: str
    dashboard: str | None


def endpoints(settings: Settings, url: str, keys: LocalKeys | None) -> Endpoints:
    if keys is not None:
        where = f"{keys.path} (made for this home, mode 600; `admin` opens /ops)"
    elif settings.admin_api_keys or settings.write_api_keys:
        where = f"the configured {CONFIGURED_KEYS}"
    else:
        where = f"none: /ops and POST /events answer 401 until every node has {CONFIGURED_KEYS}"
    return Endpoints(
        url=url,
        site=f"{url}/",
        ops=f"{url}/ops",
        docs=f"{url}/docs",
        keys_file=keys.path if keys else None,
        keys=where,
        dashboard=dashboard_url(settings),
    )


def announce(where: Endpoints, as_json: bool) -> None:
    if as_json:
        say(where.model_dump_json())
        return
    say(f"Starling is up at {where.url}  (Ctrl-C stops it)")
    say(f"  movie site     {where.site}")
    say(f"  ops page       {where.ops}")
    say(f"  API keys       {where.keys}")
    if where.dashboard:
        say(f"  Ray dashboard  {where.dashboard}  (asks for Ray's token: `ray get-auth-token`)")
    say(f"  API docs       {where.docs}")
    say(
        f"  try            curl -s -X POST {where.url}/recommend "
        "-H 'content-type: application/json' -d '{\"user_id\": 1, \"k\": 10}'"
    )


def _serve_forever(settings: Settings, keys: LocalKeys | None, as_json: bool) -> None:
    from cluster.control.deploy import deploy, forget_address

    try:
        url = deploy(settings)
        # Ray Train installs its own SIGINT handler during fit() and leaves it behind.
        interrupt_on_signals()
        announce(endpoints(settings, url, keys), as_json)
        # Short sleeps: a signal that lands on one of Ray's threads only reaches the handler
        # when the main thread wakes up.
        while True:
            time.sleep(0.5)
    finally:
        forget_address(settings)


def _reporter(as_json: bool) -> Reporter:
    def report(step: StepReport) -> None:
        say(step.model_dump_json() if as_json else summary_line(step))

    return report


def up(args: argparse.Namespace) -> int:
    from cluster.pipeline import run_pipeline

    settings, keys = ensure_local_keys(settings_from(args))
    as_json = wants_json(args)
    if not as_json:
        say(f"home: {settings.home}")
    watch = watch_for(args)
    try:
        with full_runtime(settings):
            try:
                run_pipeline(settings, args.data, _reporter(as_json), args.mix, watch)
            finally:
                watch.close()
            _serve_forever(settings, keys, as_json)
    except KeyboardInterrupt:
        say("stopped")
    return 0


def serve(args: argparse.Namespace) -> int:
    settings, keys = ensure_local_keys(settings_from(args))
    try:
        with full_runtime(settings):
            _serve_forever(settings, keys, wants_json(args))
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
    dashboard = dashboard_url(settings)
    say(f"dashboard {dashboard}" if dashboard else "dashboard off (`starling up --dashboard`)")
    keys = keys_path(settings.home)
    if keys.is_file():
        say(f"keys      {keys} (admin and write, made for this home)")
    return 0
