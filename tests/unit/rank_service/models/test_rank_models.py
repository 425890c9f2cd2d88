import pytest
import torch

from core.feature_schema import RANK_FEATURES
from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import MODELS, RankModelConfig, build_model
from rank_service.models.mlp import EmbeddingMLP
from rank_service.models.parts import FeatureEmbedding
from rank_service.training.synthetic import synthetic_items, synthetic_samples


def _encoded(rows: int, seed: int = 0) -> tuple[FeatureEncoder, dict[str, torch.Tensor]]:
    samples = synthetic_samples(synthetic_items(40, seed=seed), rows=rows, n_users=20, seed=seed)
    encoder = FeatureEncoder.fit(samples)
    return encoder, encoder.encode(samples)


def _config(encoder: FeatureEncoder, **kwargs: object) -> RankModelConfig:
    return RankModelConfig(name="mlp", vocab_sizes=encoder.vocab_sizes(), **kwargs)


def test_registry_builds_the_embedding_mlp_and_rejects_unknown_names() -> None:
    encoder, _ = _encoded(10)
    assert MODELS["mlp"] is EmbeddingMLP
    assert isinstance(build_model(_config(encoder)), EmbeddingMLP)
    with pytest.raises(ValueError, match="unknown rank model"):
        build_model(RankModelConfig(name="nope", vocab_sizes=encoder.vocab_sizes()))


def test_embedding_mlp_gives_one_logit_per_row() -> None:
    encoder, batch = _encoded(7)
    batch.pop(LABEL)
    model = build_model(_config(encoder, embedding_dim=4, hidden=[8]))
    features = model.features(batch)
    fields, numerics = len(RANK_FEATURES.categorical), len(RANK_FEATURES.numeric)
    assert features.shape == (7, fields * 4 + numerics)
    assert model.features.fields(batch).shape == (7, fields, 4)
    logits = model(batch)
    assert logits.shape == (7,) and torch.isfinite(logits).all()


def test_list_pooling_ignores_padding_slots() -> None:
    embedding = FeatureEmbedding({"item": 5, "user": 3, "genre": 4, "hour": 25, "weekday": 8}, 2)
    ids = torch.tensor([[2, 3, 0, 0, 0], [2, 3, 3, 0, 0]])
    vectors = embedding.tables["item"].weight
    batch = {
        "item_id": torch.tensor([1, 1]),
        "user_id": torch.tensor([1, 1]),
        "item_genres": torch.zeros(2, 3, dtype=torch.long),
        "user_genres": torch.zeros(2, 5, dtype=torch.long),
        "user_recent_items": ids,
        "hour_of_day": torch.tensor([1, 24]),
        "day_of_week": torch.tensor([1, 7]),
    }
    pooled = embedding.fields(batch)[:, 4]
    assert torch.allclose(pooled[0], (vectors[2] + vectors[3]) / 2)
    assert torch.allclose(pooled[1], (vectors[2] + 2 * vectors[3]) / 3)
    # Rows with no known genre pool to the zero vector rather than NaN.
    assert torch.equal(embedding.fields(batch)[:, 2], torch.zeros(2, 2))
