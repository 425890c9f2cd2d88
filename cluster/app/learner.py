"""The Learner deployment: the online model update on a schedule, for as long as the app runs."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from ray import serve

from cluster.online.schedule import NothingLearntError, learn_round
from core.decisions import Decision
from core.paths import StarlingPaths
from core.settings import Settings

log = logging.getLogger(__name__)


class LearnerStatus(BaseModel):
    """The schedule and what its last round did."""

    interval_s: float = Field(description="0: the schedule is off")
    rounds: int = 0
    last_started: datetime | None = None
    last_seconds: float | None = None
    last_decisions: list[Decision] = Field(default_factory=list)
    last_skipped: dict[str, str] = Field(default_factory=dict)
    last_error: str | None = None


@serve.deployment
class Learner:
    """Runs the round of `starling learn` (ranker, then item bag: fine-tune, judge, promote
    only what the gate accepts, record every decision) every `online.interval` seconds on a
    thread of its own, the first one interval after the replica starts; with interval 0 it runs
    none. A round waits while a manual `starling learn` runs (`learn_round` takes one lock), and
    a failed round is logged and the next one tries again.

    Run one replica: the rounds of two would only take turns.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status_now = LearnerStatus(interval_s=settings.online.interval)
        self._stop = threading.Event()
        if settings.online.interval > 0:
            threading.Thread(target=self._run, name="learner", daemon=True).start()

    def _run(self) -> None:
        paths = StarlingPaths.of(self.settings)
        while not self._stop.wait(self.settings.online.interval):
            started = datetime.now(UTC)
            clock = time.perf_counter()
            # Shown while the round runs (a fine-tuning on a busy machine takes minutes).
            self.status_now = self.status_now.model_copy(update={"last_started": started})
            update: dict[str, object] = {"last_started": started, "last_error": None}
            try:
                done = learn_round(self.settings, paths, log.info)
                update |= {"last_decisions": [r.decision for r in done.results]}
                update |= {"last_skipped": done.skipped}
            except NothingLearntError as nothing:
                update |= {"last_decisions": [], "last_skipped": {"all": str(nothing)}}
            except Exception as error:
                # Whatever failed (a lake mid-commit, a swap that timed out), the schedule must
                # outlive the round.
                log.exception("the online update failed; the next round tries again")
                update |= {"last_error": f"{type(error).__name__}: {error}"}
            update |= {
                "rounds": self.status_now.rounds + 1,
                "last_seconds": time.perf_counter() - clock,
            }
            self.status_now = self.status_now.model_copy(update=update)

    async def status(self) -> LearnerStatus:
        """The schedule and its last round."""
        return self.status_now

    def __del__(self) -> None:
        self._stop.set()
