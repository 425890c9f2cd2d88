"""Scorer: a registered ranking version plus the item feature table, scoring candidates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from core.context import context_columns, now_ms
from core.filesystem import StoragePath
from core.online_store import UserProfile
from core.registry import ModelRef, Registry
from core.tables import SAMPLES
from rank_service.artifacts import RankArtifacts, load_artifacts
from rank_service.parquet import read_folder
from rank_service.predict import predict_batch
from rank_service.serving.encoded_items import EncodedItems

ITEM_COLUMNS = [
    "item_id",
    "release_year",
    "item_genres",
    "item_rating_count",
    "item_avg_rating",
    "item_rating_stddev",
]
USER_COLUMNS = [name for name in UserProfile.model_fields if name != "user_id"]
# Ids are never negative: this one is in no catalog and no vocabulary.
NO_ID = -1


@dataclass(frozen=True)
class ScoreRequest:
    """One user's candidates to score; `profile` is None for a user the online store lacks.
    `at_ms` is the moment whose context they are scored in (epoch ms); None: now."""

    profile: UserProfile | None
    user_id: int
    item_ids: list[int]
    at_ms: int | None = None


class Scorer:
    """Builds one sample row per candidate (item features + user profile + the request's
    context) and scores them all."""

    def __init__(self, artifacts: RankArtifacts, items: pa.Table, ref: ModelRef) -> None:
        self.artifacts = artifacts
        self.ref = ref
        ids = items.column("item_id").to_numpy()
        # Keeps the first row of an item listed twice, so that lookups stay unambiguous.
        _, first = np.unique(ids, return_index=True)
        self.items = items.select(ITEM_COLUMNS).take(np.sort(first))
        self._positions = pd.Index(self.items.column("item_id").to_numpy())
        self.encoded = EncodedItems(
            artifacts.encoder,
            self._positions,
            artifacts.encoder.encode(self.rows(None, NO_ID, [*self._positions, NO_ID])),
            ITEM_COLUMNS,
        )

    @classmethod
    def load(cls, registry: Registry, ref: ModelRef, item_features: StoragePath) -> Scorer:
        """Load a version (raises ModelNotFoundError when the registry lacks it) and the items."""
        registry.manifest(ref)
        artifacts = load_artifacts(registry.path(ref))
        return cls(artifacts, read_folder(item_features, ITEM_COLUMNS), ref)

    @property
    def tag(self) -> str:
        """`name:version`, as stage traces show it."""
        return f"{self.ref.name}:{self.ref.version}"

    def rows(
        self,
        profile: UserProfile | None,
        user_id: int,
        item_ids: list[int],
        at_ms: int | None = None,
    ) -> pa.Table:
        """Sample rows for the candidates at moment `at_ms` (None: now); unknown items and a
        missing profile give defaults."""
        size = len(item_ids)
        positions = self._positions.get_indexer(item_ids)
        indices = pa.array(positions, mask=positions < 0, type=pa.int64())
        table = self.items.take(indices)
        columns = {name: table.column(name) for name in ITEM_COLUMNS[1:]}
        columns["item_id"] = pa.array(item_ids, type=pa.int64())
        columns["user_id"] = pa.array(np.full(size, user_id, dtype=np.int64))
        user = profile or UserProfile(user_id=user_id)
        for name in USER_COLUMNS:
            columns[name] = pa.array([getattr(user, name)] * size, type=SAMPLES.field(name).type)
        moment = np.full(size, now_ms() if at_ms is None else at_ms, dtype=np.int64)
        columns.update(context_columns(moment, columns["user_last_ts"]))
        return pa.table(columns)

    def score(self, profile: UserProfile | None, user_id: int, item_ids: list[int]) -> np.ndarray:
        """Probabilities float32 (len(item_ids),), in the order of `item_ids`, one forward pass."""
        return self.score_many([ScoreRequest(profile, user_id, item_ids)])[0]

    def score_many(self, requests: list[ScoreRequest]) -> list[np.ndarray]:
        """Each request's probabilities, in its candidates' order, from one forward pass."""
        sizes = [len(r.item_ids) for r in requests]
        if sum(sizes) == 0:
            return [np.zeros(0, dtype=np.float32) for _ in requests]
        encoder = self.artifacts.encoder
        inputs = [
            self.encoded.batch(
                encoder.encode(self.rows(r.profile, r.user_id, [NO_ID], r.at_ms)), r.item_ids
            )
            for r in requests
            if r.item_ids
        ]
        batch = {name: torch.cat([i[name] for i in inputs]) for name in inputs[0]}
        scores = predict_batch(self.artifacts.model, batch, self.artifacts.config.logit_offset)
        return np.split(scores, np.cumsum(sizes)[:-1])
