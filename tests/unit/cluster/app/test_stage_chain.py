from __future__ import annotations

import asyncio
from typing import Any

from ray.exceptions import ActorUnavailableError

from cluster.app.stage_chain import ChainRequest, ChainStages, run_chain
from core.api import Candidate, Candidates, ProfileLookup, RecallResult, StageResult, StageTrace
from core.experiments import RerankOverrides
from core.online_store import UserProfile


def _result(stage: str, ids: list[int]) -> StageResult:
    return StageResult(
        candidates=[Candidate(item_id=i, score=1.0 / (n + 1)) for n, i in enumerate(ids)],
        trace=StageTrace(stage=stage, candidates_in=0, candidates_out=len(ids), ms=1.0),
    )


class Stage:
    """Stands in for a deployment method: answers, fails, hangs or dies once, as told."""

    def __init__(self, answer: Any, mode: str = "ok") -> None:
        self.answer = answer
        self.mode = mode
        self.calls = 0
        self.args: tuple[Any, ...] = ()

    def remote(self, *args: Any) -> Any:
        self.calls += 1
        self.args = args
        return self._run(*args)

    async def _run(self, *args: Any) -> StageResult:
        if self.mode == "fail":
            raise RuntimeError("model scored NaN")
        if self.mode == "hang":
            await asyncio.sleep(10)
        if self.mode == "dies_once" and self.calls == 1:
            raise ActorUnavailableError("replica gone", None)
        return self.answer(*args) if callable(self.answer) else self.answer


def _rerank(
    candidates: Candidates,
    k: int,
    exclude: list[int],
    genre: str | None,
    overrides: RerankOverrides | None,
) -> StageResult:
    blocked = set(exclude) | set(overrides.exclude_items or [] if overrides else [])
    kept = [i for i in candidates.item_ids if i not in blocked][:k]
    return _result("rerank", kept)


def _popular(n: int) -> Candidates:
    return Candidates.of(
        Candidate(item_id=i, score=0.0, routes=["popular"]) for i in range(900, 900 + n)
    )


def _chain(
    recall: Stage,
    rank: Stage,
    rerank: Stage,
    exclude: list[int] | None = None,
    overrides: RerankOverrides | None = None,
):
    stages = ChainStages(recall=recall, rank=rank, rerank=rerank, popular=_popular)
    request = ChainRequest(
        user_id=1, k=2, exclude=exclude or [], timeout_s=0.2, rerank_overrides=overrides
    )
    return asyncio.run(run_chain(stages, request))


def test_healthy_chain_returns_reranked_items_and_three_traces() -> None:
    out = _chain(
        Stage(_result("recall", [1, 2, 3])), Stage(_result("rank", [3, 1, 2])), Stage(_rerank)
    )
    assert out.candidates.item_ids == [3, 1]
    assert [t.stage for t in out.traces] == ["recall", "rank", "rerank"]
    assert out.degraded == []


def test_a_failing_ranker_degrades_to_the_recall_order() -> None:
    out = _chain(Stage(_result("recall", [1, 2, 3])), Stage(None, "fail"), Stage(_rerank))
    assert out.candidates.item_ids == [1, 2]
    assert out.degraded == ["rank"]
    assert out.traces[1].detail["degraded"] == "RuntimeError"


def test_a_slow_ranker_times_out_instead_of_failing_the_request() -> None:
    out = _chain(Stage(_result("recall", [1, 2, 3])), Stage(None, "hang"), Stage(_rerank))
    assert out.candidates.item_ids == [1, 2]
    assert out.traces[1].detail["degraded"] == "timeout"


def test_failed_recall_and_rerank_fall_back_to_popularity_minus_exclusions() -> None:
    out = _chain(Stage(None, "fail"), Stage(None, "fail"), Stage(None, "fail"), exclude=[900])
    assert out.candidates.item_ids == [901, 902]
    assert out.degraded == ["recall", "rank", "rerank"]


def test_a_replica_that_died_mid_request_is_retried_once() -> None:
    rank = Stage(_result("rank", [2, 1]), "dies_once")
    out = _chain(Stage(_result("recall", [1, 2])), rank, Stage(_rerank))
    assert out.candidates.item_ids == [2, 1]
    assert rank.calls == 2
    assert out.degraded == []


def test_a_variants_rerank_policy_reaches_the_rerank_stage() -> None:
    recall, rank = Stage(_result("recall", [1, 2, 3])), Stage(_result("rank", [3, 1, 2]))
    out = _chain(recall, rank, Stage(_rerank), overrides=RerankOverrides(exclude_items=[3]))
    assert out.candidates.item_ids == [1, 2]
    assert out.degraded == []


def test_the_profile_recall_read_goes_to_rank_and_into_the_result() -> None:
    user = ProfileLookup(profile=UserProfile(user_id=1, user_recent_items=[5]))
    recalled = _result("recall", [1, 2, 3])
    rank = Stage(_result("rank", [3, 1, 2]))
    recall = Stage(RecallResult(candidates=recalled.candidates, trace=recalled.trace, user=user))
    out = _chain(recall, rank, Stage(_rerank))
    assert rank.args == (1, recalled.candidates, user)
    assert out.user == user


def test_after_a_failed_recall_rank_gets_no_profile_and_reads_it_itself() -> None:
    rank = Stage(_result("rank", [901, 900]))
    out = _chain(Stage(None, "fail"), rank, Stage(_rerank))
    assert rank.args[2] is None
    assert out.user is None
