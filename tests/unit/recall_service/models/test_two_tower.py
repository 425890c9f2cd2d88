import math

import numpy as np
import pyarrow as pa
import pytest
import torch

from core.online_store import UserProfile
from recall_service.models.two_tower import TwoTower, in_batch_softmax_loss
from recall_service.models.two_tower_encoder import TwoTowerEncoder, item_table, profile_table
from recall_service.registry import RECALL_MODELS

GENRES = {0: "Comedy", 1: "Horror"}


def _rows(n: int, rng: np.random.Generator) -> pa.Table:
    """Positive rows over ten groups of four items (100-103, 104-107, ...; even groups are
    comedies, odd ones horror films): a user who recently liked two items of a group likes
    another of that group next."""
    groups = rng.integers(0, 10, n)
    recent = [(100 + 4 * g + rng.choice(4, 2, replace=False)).tolist() for g in groups]
    items = [int(100 + 4 * g + rng.integers(4)) for g in groups]
    genres = [[GENRES[int(g) % 2]] for g in groups]
    table = item_table(items, genres, [1990 + i % 20 for i in items])
    return (
        table.append_column("user_recent_items", pa.array(recent, pa.list_(pa.int64())))
        .append_column("user_genres", pa.array(genres, pa.list_(pa.string())))
        .append_column("user_rating_count", pa.array(rng.integers(1, 50, n), pa.int64()))
    )


def _tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.as_tensor(values) for name, values in arrays.items()}


def test_towers_give_unit_vectors_and_the_loss_is_a_scalar() -> None:
    rows = _rows(16, np.random.default_rng(0))
    encoder = TwoTowerEncoder.fit(rows)
    model = TwoTower(encoder.num_items, encoder.num_genres, dim=8, hidden=16, temperature=0.1)
    batch = _tensors(encoder.training_batch(rows))

    assert batch["recent"].shape == (16, 5) and batch["user_genres"].shape == (16, 5)
    assert batch["item"].shape == (16,) and batch["item_genres"].shape == (16, 3)
    users, items = model.users(batch), model.items(batch)
    assert users.shape == (16, 8) and items.shape == (16, 8)
    torch.testing.assert_close(users.norm(dim=1), torch.ones(16))
    assert model(batch).shape == ()
    assert RECALL_MODELS["two_tower"].module is TwoTower


def test_encoder_pads_truncates_and_maps_unknown_ids_to_zero() -> None:
    rows = item_table([120, 121, 122, 123], [["Horror"]] * 3 + [["Comedy"]], [1990] * 4)
    rows = (
        rows.append_column("user_recent_items", pa.array([[120]] * 4, pa.list_(pa.int64())))
        .append_column("user_genres", pa.array([["Horror"]] * 4, pa.list_(pa.string())))
        .append_column("user_rating_count", pa.array([1, 2, 3, 4], pa.int64()))
    )
    encoder = TwoTowerEncoder.fit(rows)
    profile = UserProfile(
        user_id=1,
        user_recent_items=[123, 999, 121, 122, 120, 124, 125],
        user_genres=["Horror", "Western"],
        user_rating_count=3,
    )

    users = encoder.users(profile_table(profile))

    # Vocabulary rows: 120 -> 1, ..., 123 -> 4; genres Comedy -> 1, Horror -> 2; 0 is unknown.
    assert users["recent"].tolist() == [[4, 0, 2, 3, 1]]
    assert users["user_genres"].tolist() == [[2, 0, 0, 0, 0]]
    items = encoder.items(item_table([121, 555], [["Comedy"], []], [1990, None]))
    assert items["item"].tolist() == [2, 0]
    assert items["item_genres"].tolist() == [[1, 0, 0], [0, 0, 0]]
    assert items["item_numeric"].tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert encoder.log_q(np.array([1, 4])).tolist() == pytest.approx([math.log(0.25)] * 2)


def test_log_q_correction_subtracts_each_items_log_sampling_probability() -> None:
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ids = torch.tensor([1, 2])
    log_q = torch.log(torch.tensor([0.75, 0.25]))

    loss = in_batch_softmax_loss(users, items, ids, log_q, temperature=1.0)

    # Logits minus log q: user 0 sees (1 - log .75, 0 - log .25), user 1 (0 - log .75,
    # 1 - log .25); the popular item 1 is a cheaper negative for user 1, the rare item 2 a
    # dearer one for user 0.
    row0 = math.log(math.exp(1 - math.log(0.75)) + math.exp(-math.log(0.25))) - (1 - math.log(0.75))
    row1 = math.log(math.exp(-math.log(0.75)) + math.exp(1 - math.log(0.25))) - (1 - math.log(0.25))
    assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-5)
    uniform = in_batch_softmax_loss(users, items, ids, torch.log(torch.tensor([0.5, 0.5])), 1.0)
    plain = math.log(math.e + 1) - 1
    assert uniform.item() == pytest.approx(plain, rel=1e-5), "equal q changes nothing"


def test_a_row_holding_the_same_item_is_no_negative() -> None:
    users = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    log_q = torch.zeros(3)

    loss = in_batch_softmax_loss(users, items, torch.tensor([7, 7, 8]), log_q, 1.0)

    # Users 0 and 1 each compete only with item 8; user 2 with both copies of item 7.
    expected = (2 * (math.log(math.e + 1) - 1) + math.log(math.e + 2) - 1) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_training_lowers_the_loss_and_ranks_a_users_kind_of_item_first() -> None:
    torch.manual_seed(0)
    rows = _rows(1200, np.random.default_rng(2))
    encoder = TwoTowerEncoder.fit(rows)
    model = TwoTower(encoder.num_items, encoder.num_genres, dim=8, hidden=16, temperature=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    batch = _tensors(encoder.training_batch(rows))
    losses = []
    for _ in range(3):
        for index in torch.randperm(rows.num_rows).split(100):
            loss = model({name: values[index] for name, values in batch.items()})
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])

    model.eval()
    genres = [[GENRES[(item - 100) // 4 % 2]] for item in range(100, 140)]
    catalog = item_table(list(range(100, 140)), genres, [2000] * 40)
    fan = UserProfile(user_id=1, user_recent_items=[121, 122], user_genres=["Horror"])
    with torch.no_grad():
        items = model.items(_tensors(encoder.items(catalog)))
        user = model.users(_tensors(encoder.users(profile_table(fan))))[0]
    top = (items @ user).argsort(descending=True)[:4] + 100
    assert sorted(top.tolist()) == [120, 121, 122, 123]
