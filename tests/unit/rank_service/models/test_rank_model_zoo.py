import pytest
import torch
from torch import nn

from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.models import BASELINE, MODELS, RankModelConfig, build_model
from rank_service.training.synthetic import synthetic_items, synthetic_samples


def _encoded(rows: int, seed: int = 0) -> tuple[FeatureEncoder, dict[str, torch.Tensor]]:
    samples = synthetic_samples(synthetic_items(40, seed=seed), rows=rows, n_users=20, seed=seed)
    encoder = FeatureEncoder.fit(samples)
    return encoder, encoder.encode(samples)


def test_registry_holds_every_model_of_the_issue_and_the_baseline() -> None:
    assert set(MODELS) == {"mlp", "wide_deep", "neural_cf", "deepfm", "din", BASELINE}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_gives_one_finite_logit_per_row(name: str) -> None:
    encoder, batch = _encoded(7)
    batch.pop(LABEL)
    config = RankModelConfig(
        name=name, vocab_sizes=encoder.vocab_sizes(), embedding_dim=4, hidden=[8, 4]
    )
    logits = build_model(config)(batch)
    assert logits.shape == (7,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_models_loss_falls_on_a_learnable_signal(name: str) -> None:
    torch.manual_seed(0)
    encoder, batch = _encoded(256)
    comedy = encoder.state.genres.index("Comedy") + 1
    labels = (batch["item_genres"] == comedy).any(dim=1).float()
    batch.pop(LABEL)
    config = RankModelConfig(
        name=name,
        vocab_sizes=encoder.vocab_sizes(),
        embedding_dim=8,
        hidden=[16],
        cross_buckets=997,
    )
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(40):
        loss = loss_fn(model(batch), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_din_ignores_the_order_of_recent_items_but_not_their_content() -> None:
    encoder, batch = _encoded(16)
    batch.pop(LABEL)
    torch.manual_seed(0)
    model = build_model(RankModelConfig(name="din", vocab_sizes=encoder.vocab_sizes())).eval()
    shuffled = dict(batch, user_recent_items=batch["user_recent_items"].flip(1))
    # Attention pools a set: padding slots and the order of the recent items change nothing.
    assert torch.allclose(model(batch), model(shuffled), atol=1e-5)
    emptied = dict(batch, user_recent_items=torch.zeros_like(batch["user_recent_items"]))
    has_history = (batch["user_recent_items"] != 0).any(1)
    assert not torch.allclose(model(batch)[has_history], model(emptied)[has_history])
