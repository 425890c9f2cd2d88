"""RankStage: the logic behind the Rank deployment, callable without Ray."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from core.api import Candidate, StageResult, StageTrace
from core.online_store import UserProfile
from core.registry import ModelRef, Registry
from rank_service.scorer import Scorer

logger = logging.getLogger(__name__)


class ProfileSource(Protocol):
    """Where user profiles come from (the online store in production)."""

    def profile(self, user_id: int) -> UserProfile | None: ...


class RankConfig(BaseModel):
    """The deployment's `user_config`: which registered version to serve."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str


class RankStage:
    """Scores recall candidates with the loaded model version and sorts them, best first."""

    def __init__(self, profiles: ProfileSource, registry: Registry, item_features: Path) -> None:
        self.profiles = profiles
        self.registry = registry
        self.item_features = item_features
        self.scorer: Scorer | None = None

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Load the named version; on failure keep serving the old one, or raise if none."""
        try:
            wanted = RankConfig.model_validate(config)
            ref = ModelRef(kind="rank", name=wanted.name, version=wanted.version)
            scorer = Scorer.load(self.registry, ref, self.item_features)
        except Exception:
            if self.scorer is None:
                raise
            logger.exception("rank model %s not loaded; still serving %s", config, self.scorer.tag)
            return
        self.scorer = scorer
        logger.info("rank now serves %s", scorer.tag)

    def rank(self, user_id: int, candidates: list[Candidate]) -> StageResult:
        """Candidates with score = click probability, sorted by it, routes kept."""
        if self.scorer is None:
            raise RuntimeError("no rank model loaded; reconfigure with a name and version first")
        started = time.perf_counter()
        profile = self.profiles.profile(user_id)
        scores = self.scorer.score(profile, user_id, [c.item_id for c in candidates])
        scored = [
            c.model_copy(update={"score": float(score)})
            for c, score in zip(candidates, scores, strict=True)
        ]
        scored.sort(key=lambda c: c.score, reverse=True)
        trace = StageTrace(
            stage="rank",
            candidates_in=len(candidates),
            candidates_out=len(scored),
            ms=(time.perf_counter() - started) * 1000.0,
            model=self.scorer.tag,
            detail={"profile": "found" if profile is not None else "cold"},
        )
        return StageResult(candidates=scored, trace=trace)
