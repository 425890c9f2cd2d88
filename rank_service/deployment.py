"""The Rank Serve deployment: a thin shell around RankStage."""

from __future__ import annotations

from typing import Any

import torch
from ray import serve

from core.api import Candidate, StageResult
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from rank_service.stage import RankStage


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.25})
class Rank:
    """Serves the version named in `user_config` ({"name": "mlp", "version": "v3"})."""

    def __init__(self, settings: Settings) -> None:
        # Replicas share the machine's cores; torch's default of one thread per core would make
        # them fight over every forward pass.
        torch.set_num_threads(1)
        paths = StarlingPaths(settings.home)
        store = OnlineStore(settings.resolved_redis_url())
        self.stage = RankStage(store, Registry(paths.registry), paths.item_features)

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.stage.reconfigure(config)

    async def rank(self, user_id: int, candidates: list[Candidate]) -> StageResult:
        return self.stage.rank(user_id, candidates)
