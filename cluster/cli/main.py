"""`starling`: the one command line; each command parses flags, builds Settings, calls one job."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from cluster.cli import commands
from cluster.cli.app_parsers import add_app_commands
from cluster.cli.pipeline_parsers import add_pipeline_commands
from cluster.runtime.session import interrupt_on_signals
from core.errors import StarlingError

log = logging.getLogger("starling")


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


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="starling",
        description="Starling: a deep-learning recommender system on Ray.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_pipeline_commands(sub, common)
    add_app_commands(sub, common)
    return parser


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
    except StarlingError as error:
        return commands.fail(str(error))


if __name__ == "__main__":
    sys.exit(main())
