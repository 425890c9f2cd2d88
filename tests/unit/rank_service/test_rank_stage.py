from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from core.api import Candidate
from core.online_store import UserProfile
from core.registry import ModelNotFoundError, ModelRef, Registry
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.scorer import Scorer
from rank_service.stage import RankStage
from tests.support.rank_samples import synthetic_items, synthetic_samples


class Profiles:
    def __init__(self, profiles: dict[int, UserProfile]) -> None:
        self.profiles = profiles

    def profile(self, user_id: int) -> UserProfile | None:
        return self.profiles.get(user_id)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Registry, Path]:
    """A registry with one untrained version (mlp v1) and an item feature folder."""
    items = synthetic_items(60)
    (tmp_path / "items").mkdir()
    pq.write_table(items, tmp_path / "items" / "part-0.parquet")
    (tmp_path / "items" / "_manifest.json").write_text("{}")
    encoder = FeatureEncoder.fit(synthetic_samples(items, rows=300, n_users=30))
    config = RankModelConfig(
        name="mlp", embedding_dim=4, hidden=[8], vocab_sizes=encoder.vocab_sizes()
    )
    torch.manual_seed(0)
    state = build_model(config).state_dict()
    registry = Registry(tmp_path / "registry")
    registry.publish(
        "rank",
        "mlp",
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={},
        data_snapshot="test",
    )
    return registry, tmp_path / "items"


def test_scorer_scores_known_unknown_and_cold_in_request_order(home) -> None:
    registry, items = home
    scorer = Scorer.load(registry, ModelRef(kind="rank", name="mlp", version="v1"), items)
    profile = UserProfile(
        user_id=3,
        user_rating_count=12,
        user_avg_rating=4.1,
        user_genres=["Comedy"],
        user_recent_items=[5, 6],
    )
    ids = [*range(1, 50), 10_000]
    warm = scorer.score(profile, 3, ids)
    cold = scorer.score(None, 99_999, ids)
    for scores in (warm, cold):
        assert scores.shape == (50,) and scores.dtype == np.float32
        assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert not np.allclose(warm, cold)
    reversed_scores = scorer.score(profile, 3, ids[::-1])
    assert np.allclose(reversed_scores[::-1], warm, atol=1e-6)
    assert scorer.score(profile, 3, []).shape == (0,)


def test_stage_sorts_by_probability_and_keeps_routes(home) -> None:
    registry, items = home
    stage = RankStage(Profiles({}), registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    candidates = [
        Candidate(item_id=i, score=0.0, routes=["embedding", "popular"][: 1 + i % 2])
        for i in range(1, 31)
    ]
    result = stage.rank(7, candidates)
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert {c.item_id for c in result.candidates} == set(range(1, 31))
    assert all(c.routes == candidates[c.item_id - 1].routes for c in result.candidates)
    assert result.trace.stage == "rank" and result.trace.model == "mlp:v1"
    assert (result.trace.candidates_in, result.trace.candidates_out) == (30, 30)
    assert result.trace.detail["profile"] == "cold"


def test_reconfigure_keeps_the_serving_version_when_the_new_one_fails(home) -> None:
    registry, items = home
    stage = RankStage(Profiles({}), registry, items)
    with pytest.raises(ModelNotFoundError):
        stage.reconfigure({"name": "mlp", "version": "v9"})
    with pytest.raises(RuntimeError, match="no rank model"):
        stage.rank(1, [Candidate(item_id=1, score=0.0)])
    stage.reconfigure({"name": "mlp", "version": "v1"})
    stage.reconfigure({"name": "mlp", "version": "v9"})
    assert stage.rank(1, [Candidate(item_id=1, score=0.0)]).trace.model == "mlp:v1"
