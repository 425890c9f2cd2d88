from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from recall_service.models.item_bag import ItemBag
from recall_service.registry import recall_model
from recall_service.training.item_bag_data import BagHistories, CandidateSampler, target_counts
from recall_service.training.item_bag_loop import BagStep
from recall_service.training.vocab import ItemVocab


def test_shapes_and_padding() -> None:
    model = ItemBag(num_items=6, dim=4, temperature=0.1)
    history = torch.tensor([[0, 1, 6], [6, 6, 6]])
    users = model.users(history)
    assert users.shape == (2, 4)
    assert torch.allclose(users[0].norm(), torch.tensor(1.0))
    assert torch.equal(users[1], torch.zeros(4))  # an empty history scores every item alike
    assert model.item_vectors().shape == (6, 4)
    assert model.input_vectors().shape == (6, 4)
    loss = model(
        history,
        torch.tensor([0, 1]),
        torch.tensor([2, 3]),
        torch.arange(6),
        torch.zeros(2),
        torch.zeros(6),
    )
    assert loss.shape == () and torch.isfinite(loss)


def test_registry_row_resolves() -> None:
    row = recall_model("item_bag")
    assert row.module is ItemBag
    assert row.train.__name__ == "train_item_bag"


def _clustered_rows(users: int, seed: int) -> pa.Table:
    """Two groups of users: the first rates items 0-9, the second items 10-19."""
    rng = np.random.default_rng(seed)
    user_ids, item_ids = [], []
    for user in range(users):
        group = 0 if user % 2 == 0 else 10
        for item in rng.choice(10, size=6, replace=False):
            user_ids.append(user)
            item_ids.append(group + int(item))
    n = len(user_ids)
    return pa.table(
        {
            "user_id": np.asarray(user_ids),
            "item_id": np.asarray(item_ids),
            "ts": np.arange(n),
            "label": np.ones(n, dtype=np.int8),
        }
    )


def test_a_co_occurring_item_outranks_a_random_one() -> None:
    rows = _clustered_rows(60, seed=0)
    vocab = ItemVocab.from_items(rows["item_id"].to_numpy())
    histories = BagHistories.from_rows(rows, vocab, cap=50)
    counts, per_user = target_counts(histories, positive_targets=False)
    torch.manual_seed(0)
    model = ItemBag(len(vocab), dim=8, temperature=0.2)
    sampler = CandidateSampler(counts, pairs=per_user * 16 * 0.5, sampled=8, power=0.75)
    step = BagStep(model, histories, sampler, 0.05, 0.5, False, seed=0)
    users = np.arange(len(histories.user_ids))
    for _ in range(30):
        for begin in range(0, len(users), 16):
            step(users[begin : begin + 16])
    with torch.no_grad():
        user = model.users(torch.as_tensor([[0, 1, 2, len(vocab)]]))[0]
        scores = model.item_vectors() @ user
    assert scores[3:10].min() > scores[10:].max()
