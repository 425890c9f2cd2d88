"""`starling`: the one command line; each command parses flags, builds Settings, calls one job."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from cluster import commands, operator_commands
from cluster.runtime import interrupt_on_signals

log = logging.getLogger("starling")

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class _RecallModels:
    """The recall model names as argparse choices, looked up only when a flag is checked or
    shown: the trainers import torch, which `ingest` and `features` never need."""

    def __contains__(self, name: object) -> bool:
        from recall_service.trainers import TRAINERS

        return name in TRAINERS

    def __iter__(self) -> Iterator[str]:
        from recall_service.trainers import TRAINERS

        return iter(TRAINERS)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder with the lake, features, registry, Milvus Lite and Redis files "
        "(env STARLING_HOME, default ./.starling)",
    )
    common.add_argument(
        "--address",
        dest="ray_address",
        default=argparse.SUPPRESS,
        help="an existing Ray cluster, e.g. ray://head:10001 or head:6379 "
        "(env RAY_ADDRESS; a local Ray starts when unset)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=False, help="show library logs"
    )
    return common


def _train_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=argparse.SUPPRESS, help="Ray Train workers")
    parser.add_argument(
        "--gpu", action="store_true", default=argparse.SUPPRESS, help="use GPU workers if present"
    )
    parser.add_argument("--epochs", type=int, default=argparse.SUPPRESS, help="training epochs")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="starling",
        description="Starling: a deep-learning recommender system on Ray.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="source data tools", parents=[common])
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    synth = data_sub.add_parser(
        "synth",
        parents=[common],
        help="write a synthetic MovieLens-format data set",
        description="Write movies.csv, ratings.csv, links.csv and tags.csv with learnable "
        "structure (latent tastes, long-tail popularity, taste drift). Same seed, same bytes.",
    )
    synth.add_argument("--users", type=int, default=2000)
    synth.add_argument("--items", type=int, default=1500)
    synth.add_argument("--ratings", type=int, default=200_000)
    synth.add_argument("--seed", type=int, default=42)
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.set_defaults(run=commands.synth)

    ingest = sub.add_parser(
        "ingest",
        parents=[common],
        help="validate a MovieLens directory or an event log into the Parquet lake",
        description="Read a MovieLens release (CSV, ml-1m/ml-10m .dat or ml-100k, detected "
        "by its files) or event logs (CSV, JSON Lines or Parquet files, or a folder of them) "
        "with Ray Data, validate every row (bad rows go to the quarantine table with their "
        "reason, file and line) and commit the events lake atomically. Files ingested before "
        "are skipped; a killed run leaves the lake at its last commit.",
    )
    ingest.add_argument(
        "--source",
        type=Path,
        default=None,
        help="MovieLens directory, event log file or folder (default: synthetic data)",
    )
    ingest.add_argument(
        "--map",
        default=argparse.SUPPRESS,
        help="event log columns, e.g. user=uid,item=sku,ts=time,type=action,value=amount "
        "(fields: user, item, ts, value, type, event_id, tag; unmapped fields keep their own "
        "names; without a type column, rows with a value are ratings and others clicks)",
    )
    ingest.add_argument(
        "--ts-unit",
        choices=("s", "ms", "us", "ns"),
        default=argparse.SUPPRESS,
        help="unit of numeric event log timestamps (default s)",
    )
    ingest.add_argument(
        "--ts-format",
        default=argparse.SUPPRESS,
        help="strptime format of text timestamps, or ISO8601",
    )
    ingest.add_argument(
        "--rating-range",
        default=argparse.SUPPRESS,
        metavar="MIN,MAX",
        help="valid rating values (default STARLING_DATA__RATING_MIN/MAX, 0.5,5)",
    )
    ingest.set_defaults(run=commands.ingest)

    features = sub.add_parser(
        "features",
        parents=[common],
        help="compute features, samples, sequences and statistics",
        description="Compute point-in-time samples, item and user features, positive "
        "sequences and statistics from the lake with Ray Data, then publish online features "
        "to Redis.",
    )
    features.set_defaults(run=commands.features)

    train = sub.add_parser("train", help="train a model with Ray Train", parents=[common])
    train_sub = train.add_subparsers(dest="train_command", required=True, metavar="KIND")
    recall = train_sub.add_parser(
        "recall",
        parents=[common],
        help="train an item embedding model and build its Milvus index",
        description="Train a recall model with Ray Train (item2vec or DeepWalk on users' "
        "positive sequences, or the two-tower on the positive samples), write the item vectors "
        "into a Milvus Lite collection and register a new version.",
    )
    recall.add_argument(
        "--model",
        choices=_RecallModels(),
        default=argparse.SUPPRESS,
        help="recall model (default STARLING_RECALL_MODEL, item2vec)",
    )
    _train_flags(recall)
    recall.set_defaults(run=commands.train_recall)
    rank = train_sub.add_parser(
        "rank",
        parents=[common],
        help="train a ranking model",
        description="Train a ranking model on the samples with Ray Train, evaluate it on the "
        "time-based test split and register a new version.",
    )
    rank.add_argument("--model", default=argparse.SUPPRESS, help="ranking model (default mlp)")
    _train_flags(rank)
    rank.set_defaults(run=commands.train_rank)

    evaluate = sub.add_parser(
        "eval",
        parents=[common],
        help="offline evaluation of the models",
        description="Without a KIND: print the offline metrics recorded for the serving models. "
        "`eval recall`: Recall/NDCG/HitRate@10,50,100 and coverage of every recall route, the "
        "merged set and the most-popular and item-KNN baselines on the time split. `eval rank`: "
        "every ranking model against a logistic-regression baseline on the same features. "
        "Tables are printed and saved as JSON and PNG under the home's stats/ folder.",
    )
    evaluate.add_argument(
        "kind", nargs="?", choices=["recall", "rank"], default=None, help="what to evaluate"
    )
    evaluate.add_argument(
        "--models", nargs="+", default=None, help="ranking models to compare (default: all)"
    )
    evaluate.add_argument(
        "--model",
        choices=_RecallModels(),
        default=None,
        help="recall model whose newest version the embedding routes use (default: serving)",
    )
    evaluate.add_argument(
        "--random-split",
        action="store_true",
        help="also train and score each ranking model on a random 80/20 split (SparrowRecSys)",
    )
    evaluate.set_defaults(run=commands.evaluate)

    up = sub.add_parser(
        "up",
        parents=[common],
        help="run every stale step, deploy the app and stay in the foreground",
        description="Generate synthetic data unless --data is given, run each step whose "
        "outputs are missing or stale, deploy the Serve app and serve until Ctrl-C.",
    )
    up.add_argument("--data", type=Path, default=None, help="MovieLens directory")
    _serve_flags(up)
    up.set_defaults(run=commands.up)

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="deploy the app from the registry and stay in the foreground",
        description="Deploy the Serve app with the registry's serving models and serve "
        "until Ctrl-C.",
    )
    _serve_flags(serve)
    serve.set_defaults(run=commands.serve)

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

    status = sub.add_parser(
        "status",
        parents=[common],
        help="show what the home folder holds and whether the app answers",
        description="Show the lake, features and registry of the home folder and the health "
        "of the app at its URL.",
    )
    _serve_flags(status)
    status.set_defaults(run=commands.status)

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
    _models_parser(sub, common)
    _scale_parser(sub, common)
    return parser


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


def _serve_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", dest="http_host", default=argparse.SUPPRESS, help="HTTP host")
    parser.add_argument(
        "--port", dest="http_port", type=int, default=argparse.SUPPRESS, help="HTTP port"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    interrupt_on_signals()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return commands.fail(f"invalid setting {where}: {first['msg']}")
    except Exception as error:
        if isinstance(error, commands.user_errors()):
            return commands.fail(str(error))
        raise


if __name__ == "__main__":
    sys.exit(main())
