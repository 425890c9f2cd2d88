"""One round of the online update, of the ranker and then the item bag, taken in turns with any
other round: `starling learn` and the app's Learner run the same rounds, never at once."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import BaseModel, Field

from cluster.online.common import LearnResult
from cluster.online.rank_learn import learn_rank
from cluster.online.recall_learn import learn_recall
from core.errors import MissingDataError
from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.registry import ModelKind
from core.settings import Settings
from core.writer_lock import writer_lock

logger = logging.getLogger(__name__)


class NothingLearntError(MissingDataError):
    """A round in which no model had anything to learn."""


class LearnRound(BaseModel):
    """What a round did: each model's update, and why the others were skipped."""

    results: list[LearnResult] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict, description="kind -> why")


def round_lock(paths: StarlingPaths) -> StoragePath:
    """The folder whose writer lock a round holds: one round at a time per registry."""
    return paths.registry / "online-update"


def learn_round(
    settings: Settings, paths: StarlingPaths, say: Callable[[str], None] = logger.info
) -> LearnRound:
    """Update the ranker, then the item bag, under the round's lock (waiting for a round
    already running to finish). A model with nothing new to learn (or none to update) is
    skipped with its reason; NothingLearntError when both are."""
    done = LearnRound()
    updates: list[tuple[ModelKind, Callable[..., LearnResult]]] = [
        ("rank", learn_rank),
        ("recall", learn_recall),
    ]
    with writer_lock(round_lock(paths)):
        for kind, update in updates:
            try:
                done.results.append(update(settings, paths, say))
            except MissingDataError as error:
                done.skipped[kind] = str(error)
    if not done.results:
        raise NothingLearntError(
            "nothing learnt: " + "; ".join(f"{k}: {why}" for k, why in done.skipped.items())
        )
    return done
