"""Recall -> Rank -> Rerank with timeouts, one retry for reads, and graceful degradation.

A slow or failing ranker must never turn into a failed request: rank falls back to the recall
order, rerank to the first k of the previous order, and recall to the popularity list. What
degraded is named in the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from ray.exceptions import ActorDiedError, ActorUnavailableError

from core.api import Candidates, ProfileLookup, RecallResult, StageResult, StageTrace
from core.experiments import RerankOverrides

log = logging.getLogger(__name__)

# A replica that dies mid-request fails the call; the router does not retry it for us.
_REPLICA_GONE = (ActorDiedError, ActorUnavailableError)

_Result = TypeVar("_Result", bound=StageResult)


# Each stage's method as a DeploymentHandle exposes it: `.remote(...)` is awaitable.
class RecallCall(Protocol):
    def remote(self, user_id: int, genre: str | None) -> Awaitable[RecallResult]: ...


class RankCall(Protocol):
    def remote(
        self, user_id: int, candidates: Candidates, user: ProfileLookup | None
    ) -> Awaitable[StageResult]: ...


class RerankCall(Protocol):
    def remote(
        self,
        ranked: Candidates,
        k: int,
        excluded: list[int],
        genre: str | None,
        overrides: RerankOverrides | None,
    ) -> Awaitable[StageResult]: ...


@dataclass(frozen=True)
class ChainStages:
    """The stages one request goes through. `rank` is already bound to the A/B variant's model
    (a multiplexed model id); `popular(n)` is the n most popular items, recall's fallback."""

    recall: RecallCall
    rank: RankCall
    rerank: RerankCall
    popular: Callable[[int], Candidates]


class ChainRequest(BaseModel):
    """What the chain needs of one /recommend request; `rerank_overrides` are the variant's
    rerank policy changes and `timeout_s` bounds each stage call."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    k: int
    exclude: list[int] = Field(default_factory=list)
    genre: str | None = None
    rerank_overrides: RerankOverrides | None = None
    timeout_s: float


class ChainResult(BaseModel):
    candidates: Candidates
    traces: list[StageTrace]
    degraded: list[str] = Field(default_factory=list)
    user: ProfileLookup | None = Field(
        None, description="the profile Recall read for the request; None when recall degraded"
    )


async def _call(stage: str, call: Callable[[], Awaitable[_Result]], timeout_s: float) -> _Result:
    """Every stage only reads state, so a call whose replica died is safe to retry once."""
    try:
        return await asyncio.wait_for(call(), timeout_s)
    except _REPLICA_GONE:
        log.warning("%s replica died mid-request; retrying once", stage)
        return await asyncio.wait_for(call(), timeout_s)


def _fallback(stage: str, candidates: Candidates, reason: str) -> StageResult:
    trace = StageTrace(
        stage=stage,
        candidates_in=len(candidates),
        candidates_out=len(candidates),
        ms=0.0,
        detail={"degraded": reason},
    )
    return StageResult(candidates=candidates, trace=trace)


async def run_chain(stages: ChainStages, request: ChainRequest) -> ChainResult:
    """The three stages in order; each failure degrades to the previous stage's answer.

    Recall's profile read goes on to Rank, which then need not read it again; when recall
    degraded there is none, and Rank reads the store itself.
    """
    degraded: list[str] = []

    async def stage(
        name: str,
        call: Callable[[], Awaitable[StageResult]],
        fallback: Callable[[], Candidates],
    ) -> StageResult:
        started = time.perf_counter()
        try:
            return await _call(name, call, request.timeout_s)
        except Exception as error:  # any failure of a stage degrades, never fails the request
            reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
            log.warning("%s degraded after %.0f ms: %s", name, _ms(started), reason)
            degraded.append(name)
            return _fallback(name, fallback(), reason)

    recalled = await stage(
        "recall",
        lambda: stages.recall.remote(request.user_id, request.genre),
        lambda: stages.popular(request.k + len(request.exclude)),
    )
    user = recalled.user if isinstance(recalled, RecallResult) else None
    ranked = await stage(
        "rank",
        lambda: stages.rank.remote(request.user_id, recalled.candidates, user),
        lambda: recalled.candidates,
    )
    final = await stage(
        "rerank",
        lambda: stages.rerank.remote(
            ranked.candidates, request.k, request.exclude, request.genre, request.rerank_overrides
        ),
        lambda: ranked.candidates.without(set(request.exclude)).head(request.k),
    )
    return ChainResult(
        candidates=final.candidates,
        traces=[recalled.trace, ranked.trace, final.trace],
        degraded=degraded,
        user=user,
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
