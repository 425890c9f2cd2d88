import numpy as np
import torch

from recall_service.models.skipgram import SkipGram
from recall_service.registry import RECALL_MODELS
from recall_service.training.pairs import negative_table, skipgram_pairs


def test_forward_returns_one_loss_for_the_batch() -> None:
    model = SkipGram(num_items=10, dim=4)
    loss = model(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3]), torch.randint(10, (3, 5)))
    assert loss.shape == ()
    assert model.item_vectors().shape == (10, 4)
    assert RECALL_MODELS["item2vec"].module is SkipGram


def _two_cluster_corpus(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Item indices 0-4 only ever co-occur with each other, and so do 5-9."""
    sequences = [rng.permutation(5) + 5 * (n % 2) for n in range(200)]
    return np.concatenate(sequences), np.full(len(sequences), 5)


def test_training_lowers_the_loss_and_groups_items_that_co_occur() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    items, lengths = _two_cluster_corpus(rng)
    centers, contexts = skipgram_pairs(items, lengths, window=2)
    table = torch.as_tensor(negative_table(np.bincount(items), size=10_000))
    model = SkipGram(num_items=10, dim=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    centers_t, contexts_t = torch.as_tensor(centers), torch.as_tensor(contexts)
    losses = []
    for _ in range(5):
        order = torch.randperm(len(centers_t))
        for batch in order.split(256):
            negatives = table[torch.randint(len(table), (len(batch), 3))]
            loss = model(centers_t[batch], contexts_t[batch], negatives)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])

    vectors = torch.nn.functional.normalize(model.item_vectors(), dim=1)
    similarity = vectors @ vectors[0]
    neighbours = similarity.argsort(descending=True)[1:5].tolist()
    assert set(neighbours) == {1, 2, 3, 4}
