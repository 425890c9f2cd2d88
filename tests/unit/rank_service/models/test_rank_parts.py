import torch

from core.feature_schema import RANK_FEATURES
from rank_service.models.parts import (
    FactorizationMachine,
    FirstOrder,
    HashedCross,
    TargetAttention,
)


def test_factorization_machine_sums_every_pairwise_dot_product() -> None:
    fields = torch.randn(3, 4, 5)
    expected = sum((fields[:, i] * fields[:, j]).sum(-1) for i in range(4) for j in range(i + 1, 4))
    assert torch.allclose(FactorizationMachine()(fields), expected, atol=1e-5)


def test_hashed_cross_adds_one_weight_per_known_pair_and_nothing_for_padding() -> None:
    cross = HashedCross(buckets=101)
    with torch.no_grad():
        cross.weights.weight.copy_(torch.arange(101, dtype=torch.float32).unsqueeze(1))
    ids = torch.tensor([3, 3, 0])
    lists = torch.tensor([[5, 0, 0], [5, 5, 0], [5, 0, 0]])
    bucket = (3 * HashedCross._MULTIPLIER + 5) % 101
    # One pair, the same pair twice, and an unknown candidate that crosses with nothing.
    assert cross(ids, lists).tolist() == [bucket, 2 * bucket, 0]


def test_first_order_of_a_fresh_model_is_the_numeric_bias_only() -> None:
    layer = FirstOrder({"item": 6, "user": 4, "genre": 5, "hour": 25, "weekday": 8})
    batch = {
        "item_id": torch.tensor([1, 5]),
        "user_id": torch.tensor([2, 3]),
        "item_genres": torch.tensor([[1, 2, 0], [4, 0, 0]]),
        "user_genres": torch.zeros(2, 5, dtype=torch.long),
        "user_recent_items": torch.tensor([[1, 2, 3, 0, 0], [0, 0, 0, 0, 0]]),
        "hour_of_day": torch.tensor([1, 24]),
        "day_of_week": torch.tensor([7, 0]),
        "numeric": torch.zeros(2, len(RANK_FEATURES.numeric)),
    }
    # Id weights start at zero, so every row gets the same logit until training moves them.
    assert torch.allclose(layer(batch), layer.numeric.bias.expand(2))
    with torch.no_grad():
        layer.weights["item_genres"].weight[1] = 2.0
    # A list feature averages its non-padding weights: (2 + 0) / 2 for row 0, 0 for row 1.
    assert torch.allclose(layer(batch) - layer.numeric.bias, torch.tensor([1.0, 0.0]))


def test_target_attention_ignores_padding_and_weighs_each_key_by_its_relevance() -> None:
    torch.manual_seed(0)
    attention = TargetAttention(dim=3, hidden=8)
    query = torch.randn(2, 3)
    keys = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    pooled = attention(query, keys, mask)
    assert pooled.shape == (2, 3)
    altered = keys.clone()
    altered[0, 2:] = 100.0
    assert torch.allclose(attention(query, altered, mask)[0], pooled[0])
    assert not torch.allclose(attention(-query, keys, mask), pooled)
