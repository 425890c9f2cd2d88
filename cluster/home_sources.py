"""What a home's lake is made of: the synthetic set, or a user's own sources, never both
unless asked for."""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInputError
from core.paths import StarlingPaths
from ingest.lake.versions import count_rows

# Written beside the synthetic set `starling up` generated into a home's data folder.
SYNTH_STAMP = "_synth.json"


class MixedSourcesError(InvalidInputError):
    """A user's data about to join a lake made from the synthetic set."""


def check_not_mixing(paths: StarlingPaths, source: Path, mix: bool) -> None:
    """Refuse to ingest `source` into a lake that holds the synthetic set, unless `mix`: its
    made-up users and items would share ids with the source's, and recommendations would
    become noise."""
    synthetic = paths.data_dir / SYNTH_STAMP
    if mix or not synthetic.is_file() or source.resolve() == paths.data_dir.resolve():
        return
    if count_rows(paths.events):
        raise MixedSourcesError(
            f"the lake in {paths.lake} holds the synthetic set; {source} would mix with it "
            "(ids collide): use another --home, or --mix to add it anyway"
        )
