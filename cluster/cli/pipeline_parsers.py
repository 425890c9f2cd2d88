"""`starling data synth`, `ingest`, `features`, `train` and `eval`: the offline steps' flags."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from cluster.cli import commands
from cluster.cli.app_parsers import MIX_HELP, add_json_flag


class _RecallModels:
    """The recall model names as argparse choices, looked up only when a flag is checked or
    shown: the models import torch, which `ingest` and `features` never need. A flag with
    these choices needs a metavar: without one, argparse lists the choices while the parser is
    built, and every command paid torch's import (1.4 s)."""

    def __contains__(self, name: object) -> bool:
        from recall_service.registry import RECALL_MODELS

        return name in RECALL_MODELS

    def __iter__(self) -> Iterator[str]:
        from recall_service.registry import RECALL_MODELS

        return iter(RECALL_MODELS)


def _train_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=argparse.SUPPRESS, help="Ray Train workers")
    parser.add_argument(
        "--gpu", action="store_true", default=argparse.SUPPRESS, help="use GPU workers if present"
    )
    parser.add_argument("--epochs", type=int, default=argparse.SUPPRESS, help="training epochs")
    add_json_flag(parser, "the registered version's manifest as JSON instead of a line and bars")


def add_pipeline_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`data synth`, `ingest`, `features`, `train recall|rank` and `eval` under `sub`, in the
    order help lists them."""
    for add in (_data_parser, _ingest_parser, _features_parser, _train_parser, _eval_parser):
        add(sub, common)


def _data_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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


def _ingest_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
    ingest.add_argument("--mix", action="store_true", help=MIX_HELP)
    add_json_flag(ingest, "the ingest summary as JSON instead of a line and progress bars")
    ingest.set_defaults(run=commands.ingest)


def _features_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    features = sub.add_parser(
        "features",
        parents=[common],
        help="compute features, samples, sequences and statistics",
        description="Compute point-in-time samples, item and user features, positive "
        "sequences and statistics from the lake with Ray Data, then publish online features "
        "to Redis.",
    )
    add_json_flag(features, "the features summary as JSON instead of a line and progress bars")
    features.set_defaults(run=commands.features)


def _train_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
        metavar="MODEL",
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


def _eval_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    evaluate = sub.add_parser(
        "eval",
        parents=[common],
        help="offline evaluation of the models",
        description="Without a KIND: print the offline metrics recorded for the serving models. "
        "`eval recall`: Recall/NDCG/HitRate@10,50,100 and coverage of every recall route, the "
        "merged set and the most-popular and item-KNN baselines on the time split (warm and "
        "cold users apart) or the per-user split, and the replayed /recommend. `eval rank`: "
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
        metavar="MODEL",
        default=None,
        help="recall model whose newest version the embedding routes use (default: serving)",
    )
    evaluate.add_argument(
        "--split",
        choices=("global", "per-user"),
        default="global",
        help="eval recall: hold out the time after the features' cutoff (global, default) or "
        "each user's last STARLING_DATA__TEST_FRACTION of ratings (per-user)",
    )
    evaluate.add_argument(
        "--random-split",
        action="store_true",
        help="also train and score each ranking model on a random 80/20 split (SparrowRecSys)",
    )
    evaluate.set_defaults(run=commands.evaluate)
