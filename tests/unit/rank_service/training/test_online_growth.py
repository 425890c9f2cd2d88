"""Growing a ranker to new users and items: old ids keep their index and embedding rows exactly,
new ones get rows of their own; and the online update's split of the samples."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from core.settings import RankSettings
from rank_service.artifacts import RankArtifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import MODELS, build_model
from rank_service.predict import predict
from rank_service.training.fine_tune import grow_artifacts, grown_state
from rank_service.training.holdout import model_config
from rank_service.training.online_data import NothingNewError, online_split
from rank_service.training.splits import newest_ms
from tests.support.online_home import ALL_ITEMS, ALL_USERS, OLD_ITEMS, OLD_USERS, online_samples


@pytest.fixture(scope="module")
def samples() -> tuple[pa.Table, pa.Table, pa.Table]:
    return online_samples()


def test_a_grown_encoder_keeps_every_known_index_and_appends_the_new_ids(samples) -> None:
    _, old, new = samples
    encoder = FeatureEncoder.fit(old)
    grown = encoder.grow(new)
    assert grown.state.items[: len(encoder.state.items)] == encoder.state.items
    assert grown.state.users[: len(encoder.state.users)] == encoder.state.users
    assert grown.state.genres == encoder.state.genres
    assert sorted(grown.state.items) == list(range(1, ALL_ITEMS + 1))
    assert sorted(grown.state.users) == list(range(1, ALL_USERS + 1))
    assert grown.vocab_sizes()["item"] == ALL_ITEMS + 1
    # Every id the old encoder knows encodes the same; numerics are standardised the same.
    before, after = encoder.encode(old), grown.encode(old)
    assert all(torch.equal(before[name], after[name]) for name in before)
    # New ids, unknown (0) before, now have indices after the old ones.
    fresh = new.filter(pc.greater(new.column("item_id"), OLD_ITEMS))
    assert (encoder.encode(fresh)["item_id"] == 0).all()
    assert (grown.encode(fresh)["item_id"] > OLD_ITEMS).all()
    # The JSON form keeps the order, so serving replicas see the same indices.
    assert FeatureEncoder.from_json(grown.to_json()).state == grown.state


@pytest.mark.parametrize("name", sorted(MODELS))
def test_growing_a_model_keeps_old_rows_and_scores_old_ids_exactly(name: str, samples) -> None:
    _, old, new = samples
    encoder = FeatureEncoder.fit(old)
    rank = RankSettings(embedding_dim=4, hidden=[8])
    config = model_config(name, rank, encoder)
    torch.manual_seed(0)
    serving = RankArtifacts(config=config, encoder=encoder, model=build_model(config).eval())
    grown = grow_artifacts(serving, new)
    grown.model.eval()
    old_state, new_state = serving.model.state_dict(), grown.model.state_dict()
    for key, before in old_state.items():
        after = new_state[key]
        assert torch.equal(after[: before.shape[0]], before), key
        if after.shape != before.shape:
            # New rows start as the mean of the known rows, not as the unknown row 0.
            expected = before[1:].mean(0)
            assert all(torch.allclose(row, expected) for row in after[before.shape[0] :]), key
    np.testing.assert_array_equal(
        predict(grown.model, grown.encoder, old), predict(serving.model, serving.encoder, old)
    )


def test_a_state_that_cannot_grow_is_refused() -> None:
    encoder_sizes = {"item": 5, "user": 5, "genre": 3, "hour": 25, "weekday": 8}
    small = build_model(model_config("mlp", RankSettings(embedding_dim=4), _Sizes(encoder_sizes)))
    wider = build_model(model_config("mlp", RankSettings(embedding_dim=6), _Sizes(encoder_sizes)))
    with pytest.raises(ValueError, match="cannot grow"):
        grown_state(small.state_dict(), wider)


class _Sizes:
    """An encoder stand-in that only knows its vocabulary sizes."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes

    def vocab_sizes(self) -> dict[str, int]:
        return self.sizes


def test_the_split_judges_on_the_newest_unseen_rows_and_trains_on_the_rest(samples) -> None:
    _, old, new = samples
    everything = pa.concat_tables([old, new])
    split = online_split(everything, newest_ms(old), 0.5, 0.1, 1.0, 100, seed=0)
    window_start = pc.min(split.window.column("ts")).as_py()
    assert split.window.num_rows >= new.num_rows // 2
    assert pc.max(split.train.column("ts")).as_py() < window_start
    assert pc.max(split.validation.column("ts")).as_py() < window_start
    assert pc.min(split.validation.column("ts")).as_py() > pc.max(old.column("ts")).as_py()
    rows = split.window.num_rows + split.validation.num_rows + split.new_rows
    assert rows == new.num_rows
    # As many old rows replayed as new ones learnt, all of them older than the new ones.
    assert split.replayed_rows == split.new_rows
    assert split.train.num_rows == 2 * split.new_rows
    replayed = split.train.slice(0, split.replayed_rows)
    assert pc.max(replayed.column("ts").cast(pa.int64())).as_py() <= newest_ms(old)
    assert max(split.window.column("user_id").to_pylist()) > OLD_USERS


def test_nothing_new_or_too_small_a_window_is_a_clear_error(samples) -> None:
    _, old, new = samples
    with pytest.raises(NothingNewError, match="newer than what the serving model learnt"):
        online_split(old, newest_ms(old), 0.5, 0.1, 1.0, 100, seed=0)
    everything = pa.concat_tables([old, new])
    with pytest.raises(NothingNewError, match="min_window_rows"):
        online_split(everything, newest_ms(old), 0.5, 0.1, 1.0, new.num_rows, seed=0)
