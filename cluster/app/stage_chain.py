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
from typing import Any, Protocol

from pydantic import BaseModel, Field
from ray.exceptions import ActorDiedError, ActorUnavailableError

from core.api import Candidates, StageResult, StageTrace
from core.experiments import RerankOverrides

log = logging.getLogger(__name__)

# A replica that dies mid-request fails the call; the router does not retry it for us.
_REPLICA_GONE = (ActorDiedError, ActorUnavailableError)


class StageCall(Protocol):
    """A deployment method as a DeploymentHandle exposes it: `.remote(...)` is awaitable."""

    def remote(self, *args: Any) -> Awaitable[StageResult]: ...


class ChainResult(BaseModel):
    candidates: Candidates
    traces: list[StageTrace]
    degraded: list[str] = Field(default_factory=list)


async def _call(
    stage: str, call: StageCall, args: tuple[Any, ...], timeout_s: float
) -> StageResult:
    """Every stage only reads state, so a call whose replica died is safe to retry once."""
    try:
        return await asyncio.wait_for(call.remote(*args), timeout_s)
    except _REPLICA_GONE:
        log.warning("%s replica died mid-request; retrying once", stage)
        return await asyncio.wait_for(call.remote(*args), timeout_s)


def _fallback(stage: str, candidates: Candidates, reason: str) -> StageResult:
    trace = StageTrace(
        stage=stage,
        candidates_in=len(candidates),
        candidates_out=len(candidates),
        ms=0.0,
        detail={"degraded": reason},
    )
    return StageResult(candidates=candidates, trace=trace)


async def run_chain(
    recall: StageCall,
    rank: StageCall,
    rerank: StageCall,
    popular: Callable[[int], Candidates],
    user_id: int,
    k: int,
    exclude: list[int],
    timeout_s: float,
    genre: str | None = None,
    rerank_overrides: RerankOverrides | None = None,
) -> ChainResult:
    """The three stages in order; each failure degrades to the previous stage's answer.

    `rank` is already bound to the A/B variant's model (a multiplexed model id);
    `rerank_overrides` are the variant's rerank policy changes.
    """
    degraded: list[str] = []

    async def stage(
        name: str,
        call: StageCall,
        args: tuple[Any, ...],
        fallback: Callable[[], Candidates],
    ) -> StageResult:
        started = time.perf_counter()
        try:
            return await _call(name, call, args, timeout_s)
        except Exception as error:  # any failure of a stage degrades, never fails the request
            reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
            log.warning("%s degraded after %.0f ms: %s", name, _ms(started), reason)
            degraded.append(name)
            return _fallback(name, fallback(), reason)

    excluded = set(exclude)
    recalled = await stage("recall", recall, (user_id, genre), lambda: popular(k + len(exclude)))
    ranked = await stage("rank", rank, (user_id, recalled.candidates), lambda: recalled.candidates)
    final = await stage(
        "rerank",
        rerank,
        (ranked.candidates, k, exclude, genre, rerank_overrides),
        lambda: ranked.candidates.without(excluded).head(k),
    )
    return ChainResult(
        candidates=final.candidates,
        traces=[recalled.trace, ranked.trace, final.trace],
        degraded=degraded,
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
