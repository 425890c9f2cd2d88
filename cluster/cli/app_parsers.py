"""`starling up`, `serve`, `status`, `events`, `abtest`, `k8s`, `models`, `learn` and `scale`:
the commands that run, inspect and change the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from cluster.cli import operator_commands, serve_commands


def add_app_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`up`, `serve`, `status`, `events consume`, `abtest report`, `k8s render`, `models`,
    `learn` and `scale` under `sub`, in the order help lists them."""
    for add in (
        _up_parser,
        _serve_parser,
        _events_parser,
        _abtest_parser,
        _status_parser,
        _k8s_parser,
        _models_parser,
        _learn_parser,
        _scale_parser,
    ):
        add(sub, common)


def _up_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    up = sub.add_parser(
        "up",
        parents=[common],
        help="run every stale step, deploy the app and stay in the foreground",
        description="Generate synthetic data unless --data is given, run each step whose "
        "outputs are missing or stale, deploy the Serve app and serve until Ctrl-C.",
    )
    up.add_argument("--data", type=Path, default=None, help="MovieLens directory or event logs")
    up.add_argument("--mix", action="store_true", help=MIX_HELP)
    _serve_flags(up)
    _run_flags(up)
    up.set_defaults(run=serve_commands.up)


MIX_HELP = "add the data to a lake that holds the synthetic set (refused without it)"


def _serve_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="deploy the app from the registry and stay in the foreground",
        description="Deploy the Serve app with the registry's serving models and serve "
        "until Ctrl-C.",
    )
    _serve_flags(serve)
    _run_flags(serve)
    serve.set_defaults(run=serve_commands.serve)


def _events_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    events = sub.add_parser("events", help="the live event stream", parents=[common])
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    consume = events_sub.add_parser(
        "consume",
        parents=[common],
        help="land the Redis event stream in the lake",
        description="Read the events posted to POST /events and the impressions of "
        "/recommend from the Redis Stream (consumer group) and commit them to the lake's "
        "events table; entries are acknowledged only after the commit, so each lands once.",
    )
    consume.set_defaults(run=operator_commands.consume_events)


def _abtest_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    abtest = sub.add_parser("abtest", help="A/B experiments", parents=[common])
    abtest_sub = abtest.add_subparsers(dest="abtest_command", required=True, metavar="COMMAND")
    report = abtest_sub.add_parser(
        "report",
        parents=[common],
        help="click-through and rating rates per variant, with confidence intervals",
        description="From the impressions and the clicks and ratings in the lake: per "
        "experiment and variant, the share of impressions clicked and rated within the window, "
        "with 95 %% Wilson intervals. Run `starling events consume` first.",
    )
    report.add_argument(
        "--window-hours", type=float, default=24.0, help="attribution window (default 24)"
    )
    report.set_defaults(run=operator_commands.abtest_report)


def _status_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    status = sub.add_parser(
        "status",
        parents=[common],
        help="show what the home folder holds and whether the app answers",
        description="Show the lake, features and registry of the home folder and the health "
        "of the app at its URL.",
    )
    _serve_flags(status)
    status.set_defaults(run=serve_commands.status)


def _k8s_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    k8s = sub.add_parser("k8s", help="KubeRay manifests", parents=[common])
    k8s_sub = k8s.add_subparsers(dest="k8s_command", required=True, metavar="COMMAND")
    render = k8s_sub.add_parser(
        "render",
        parents=[common],
        help="write the RayService's serveConfigV2 from cluster/serve_config.yaml",
        description="Render cluster/serve_config.yaml with the in-cluster home and HTTP address "
        "into the serveConfigV2 block of k8s/rayservice.yaml; the rest of the manifest is kept.",
    )
    render.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the manifest differs from what rendering gives",
    )
    render.add_argument("--manifest", type=Path, help="default k8s/rayservice.yaml")
    render.add_argument("--config", type=Path, help="serve config (default cluster's)")
    render.add_argument(
        "--cluster-home",
        help="STARLING_HOME inside the pods (the shared volume's mount path; default "
        "/data/starling)",
    )
    render.set_defaults(run=operator_commands.k8s_render)


def _models_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    models = sub.add_parser("models", help="registered models and promotion", parents=[common])
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")
    listing = models_sub.add_parser(
        "list",
        parents=[common],
        help="every registered model version with its metrics and which one serves",
    )
    listing.add_argument("--json", action="store_true", help="print the manifests as JSON")
    listing.set_defaults(run=operator_commands.models_list)
    promote = models_sub.add_parser(
        "promote",
        parents=[common],
        help="serve a registered version; the running app swaps it in without a restart",
        description="Point the Recall or Rank deployment's user_config at NAME VERSION. The "
        "running app (RAY_ADDRESS, or the one `starling up`/`serve` runs on this home) loads it "
        "in each replica's reconfigure() while requests keep flowing; a version the replicas "
        "cannot load is refused and the old one keeps serving. The registry's serving pointer "
        "and the serve config file record the promotion.",
    )
    promote.add_argument("kind", choices=["recall", "rank"])
    promote.add_argument("name", help="model name, e.g. mlp or item2vec")
    promote.add_argument("version", help="version, e.g. v2")
    promote.set_defaults(run=operator_commands.models_promote)
    rollback = models_sub.add_parser(
        "rollback",
        parents=[common],
        help="serve again the version that served before the last recorded promotion",
        description="Undo the recorded decision (a `starling learn` promotion, or a rollback) "
        "that put the serving version of KIND in place: the version that served before it is "
        "promoted through the same hot swap as `models promote`, and the rollback is recorded.",
    )
    rollback.add_argument("kind", choices=["recall", "rank"])
    rollback.set_defaults(run=operator_commands.models_rollback)


def _learn_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    learn = sub.add_parser(
        "learn",
        parents=[common],
        help="fine-tune the serving ranker and item bag on new data; promote what the gate allows",
        description="Rebuild the samples if the lake changed, fine-tune the serving rank model "
        "and then the serving item bag from their weights on what they have not learnt "
        "(growing their vocabularies to new ids) with Ray Train, and judge each candidate and "
        "serving model on the newest held-out window neither trained on. A candidate is "
        "registered; it serves (hot swap, as `models promote`) only if it is not worse: AUC "
        "and calibration within STARLING_ONLINE__AUC_TOLERANCE / __CALIBRATION_TOLERANCE for "
        "the ranker, Recall@50 within __RECALL_TOLERANCE for the item bag. Every decision is "
        "recorded and shown by `starling models list` and the ops page. The app's Learner runs "
        "the same round every STARLING_ONLINE__INTERVAL seconds; the two never overlap.",
    )
    learn.add_argument(
        "--epochs", type=int, default=argparse.SUPPRESS, help="fine-tuning epochs (default 2)"
    )
    learn.add_argument(
        "--interval",
        type=float,
        default=argparse.SUPPRESS,
        help="keep running, once every this many seconds (env STARLING_ONLINE__INTERVAL; "
        "default 0: once)",
    )
    learn.add_argument("--workers", type=int, default=argparse.SUPPRESS, help="Ray Train workers")
    learn.set_defaults(run=operator_commands.learn)


def _scale_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    scale = sub.add_parser(
        "scale",
        parents=[common],
        help="set a deployment's replicas or autoscaling bounds",
        description="Give DEPLOYMENT (Gateway, Recall, Rank, Rerank) a fixed number of replicas "
        "or autoscaling bounds. The running app applies it without dropping requests; the "
        "serve config file keeps it for later deploys.",
    )
    scale.add_argument("deployment", help="Gateway, Recall, Rank or Rerank")
    scale.add_argument("--replicas", type=int, default=argparse.SUPPRESS, help="fixed count")
    scale.add_argument("--min", type=int, default=argparse.SUPPRESS, help="autoscaling minimum")
    scale.add_argument("--max", type=int, default=argparse.SUPPRESS, help="autoscaling maximum")
    scale.set_defaults(run=operator_commands.scale)


def _run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dashboard",
        dest="ray_dashboard",
        action="store_true",
        default=argparse.SUPPRESS,
        help="start Ray's dashboard with the local Ray, on 127.0.0.1 with Ray's token "
        "(env STARLING_RAY_DASHBOARD; off by default: it costs latency on small machines)",
    )
    add_json_flag(parser, "each step's report and the endpoints as JSON lines, no bars")


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def _serve_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", dest="http_host", default=argparse.SUPPRESS, help="HTTP host")
    parser.add_argument(
        "--port", dest="http_port", type=int, default=argparse.SUPPRESS, help="HTTP port"
    )
