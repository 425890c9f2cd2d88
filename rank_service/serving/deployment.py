"""The Rank Serve deployment: a thin shell around RankStage."""

from __future__ import annotations

import asyncio
from typing import Any

import torch
from ray import serve

from core.api import Candidates, ProfileLookup, StageResult
from core.paths import StarlingPaths
from core.redis_breaker import serving_store
from core.registry import Registry
from core.settings import Settings
from rank_service.serving.scorer import Scorer
from rank_service.serving.stage import SERVING, RankRequest, RankStage


@serve.deployment
class Rank:
    """Ranks candidates with the version in `user_config` or a multiplexed one, batched.

    `user_config` ({"name": "mlp", "version": "v3"}) names the version a plain call gets;
    `reconfigure` swaps it in place and keeps the old one when the new one fails to load or
    scores NaN. One replica pool serves every other registered version too, through Serve
    model multiplexing: a caller picks one by its id "NAME/VERSION",

        rank_handle.options(multiplexed_model_id="deepfm/v2").rank.remote(user_id, candidates)

    and Serve routes it to a replica that has it loaded when there is one. A replica keeps
    `rank_serving.max_models_per_replica` such versions (least recently used goes first).
    Concurrent calls are batched (`rank_serving.max_batch_size`, `batch_wait_ms`) and scored
    with one forward pass per model; the trace's `model` names the version that scored them
    and its detail `batch` / `model_batch` how many requests the batch / the pass held.
    """

    def __init__(self, settings: Settings) -> None:
        # Replicas share the machine's cores; torch's default of one thread per core would make
        # them fight over every forward pass.
        torch.set_num_threads(1)
        paths = StarlingPaths.of(settings)
        store = serving_store(settings)
        self.stage = RankStage(
            store, Registry(paths.registry), paths.item_features, settings.rank.model_weight
        )
        serving = settings.rank_serving
        self._rank_batch.set_max_batch_size(serving.max_batch_size)
        self._rank_batch.set_batch_wait_timeout_s(serving.batch_wait_ms / 1000.0)

        async def load_model(model_id: str) -> Scorer:
            # Off the event loop, so that a load does not hold up requests for loaded models.
            return await asyncio.to_thread(self.stage.load, model_id)

        # Wrapped here rather than decorated, so that the cache size comes from Settings.
        self.load_model = serve.multiplexed(
            max_num_models_per_replica=serving.max_models_per_replica
        )(load_model)

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.stage.reconfigure(config)

    async def rank(
        self, user_id: int, candidates: Candidates, user: ProfileLookup | None = None
    ) -> StageResult:
        """`user` is the profile Recall read for this request; without it Rank reads it."""
        request = RankRequest(
            user_id=user_id,
            candidates=candidates,
            model_id=serve.get_multiplexed_model_id(),
            user=user,
        )
        result = await self._rank_batch(request)
        if isinstance(result, Exception):
            raise result
        return result

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def _rank_batch(self, requests: list[RankRequest]) -> list[StageResult | Exception]:
        # Failures come back in the failing requests' places, not raised, which would fail the
        # whole batch. Serve (2.60) already splits a batch by multiplexed model id before this
        # runs; this keeps one model's failure its own should a batch ever mix models.
        scorers: dict[str, Scorer | Exception] = {}
        for model_id in {r.model_id for r in requests} - {SERVING}:
            try:
                scorers[model_id] = await self.load_model(model_id)
            except Exception as error:
                scorers[model_id] = error
        return self.stage.rank_batch(requests, scorers)
