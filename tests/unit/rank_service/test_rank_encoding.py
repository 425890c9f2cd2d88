import pyarrow as pa
import pytest
import torch

from core.feature_schema import RANK_FEATURES
from core.tables import SAMPLES
from rank_service.encoding import LABEL, NUMERIC, FeatureEncoder
from rank_service.training.synthetic import synthetic_items, synthetic_samples


def _rows(**overrides: list) -> pa.Table:
    """Two sample rows; keyword arguments replace whole columns."""
    columns = {
        "event_id": [1, 2],
        "user_id": [1, 2],
        "item_id": [10, 20],
        "ts": [0, 1],
        "rating": [4.0, 2.0],
        "label": [1, 0],
        "negative": [False, False],
        "sample_logq": [0.0, 0.0],
        "release_year": [1990, 2000],
        "item_genres": [["Comedy"], ["Drama", "Action"]],
        "item_rating_count": [0, 99],
        "item_avg_rating": [4.0, 2.0],
        "item_rating_stddev": [0.5, 1.0],
        "user_rating_count": [3, None],
        "user_avg_rating": [3.5, None],
        "user_rating_stddev": [1.0, None],
        "user_avg_release_year": [1995.0, None],
        "user_release_year_stddev": [3.0, None],
        "user_genres": [["Comedy", "Drama"], []],
        "user_recent_items": [[20, 10], []],
        "user_last_ts": [-60_000, None],
        "hour_of_day": [0, 23],
        "day_of_week": [3, 2],
        "seconds_since_last_event": [60.0, None],
    }
    columns.update(overrides)
    return pa.table(columns, schema=SAMPLES)


def test_unknown_ids_and_genres_map_to_zero() -> None:
    encoder = FeatureEncoder.fit(_rows())
    batch = encoder.encode(
        _rows(
            user_id=[1, 777],
            item_id=[999, 20],
            item_genres=[["Western"], ["Drama"]],
            user_recent_items=[[10, 555], []],
        )
    )
    assert batch["user_id"][1] == 0 and batch["user_id"][0] != 0
    assert batch["item_id"][0] == 0 and batch["item_id"][1] != 0
    assert batch["item_genres"][0].tolist() == [0, 0, 0]
    assert batch["user_recent_items"][0, 0] != 0
    assert batch["user_recent_items"][0, 1:].tolist() == [0, 0, 0, 0]


def test_a_batch_encodes_as_its_rows_one_by_one() -> None:
    # Serving encodes one row at a time, training thousands: both must give the same tensors,
    # unknown ids and genres, empty lists and missing user features included.
    items = synthetic_items(40)
    encoder = FeatureEncoder.fit(synthetic_samples(items, rows=300, n_users=20, seed=1))
    rows = synthetic_samples(synthetic_items(60), rows=200, n_users=30, seed=2)
    whole = encoder.encode(rows)
    for n in range(rows.num_rows):
        one = encoder.encode(rows.slice(n, 1))
        for name, tensor in whole.items():
            assert torch.equal(one[name][0], tensor[n]), (name, n)
    assert (whole["item_id"] == 0).any() and (whole["user_id"] == 0).any()


def test_lists_are_truncated_keeping_the_first_entries_and_zero_padded() -> None:
    encoder = FeatureEncoder.fit(_rows())
    batch = encoder.encode(_rows(user_recent_items=[[10, 20, 10, 20, 10, 20, 10], [20]]))
    recent = batch["user_recent_items"]
    assert recent.shape == (2, 5)
    ten, twenty = batch["item_id"].tolist()
    assert recent[0].tolist() == [ten, twenty, ten, twenty, ten]
    assert recent[1].tolist() == [twenty, 0, 0, 0, 0]
    assert batch["item_genres"].shape == (2, 3)
    assert batch["user_genres"].shape == (2, 5)


def test_numerics_are_standardised_with_nulls_as_zero() -> None:
    encoder = FeatureEncoder.fit(_rows())
    batch = encoder.encode(_rows())
    numeric = batch[NUMERIC]
    width = len(RANK_FEATURES.numeric)
    assert numeric.shape == (2, width) and numeric.dtype == torch.float32
    assert not torch.isnan(numeric).any()
    # Fitted on these two rows, each column has mean 0 and (population) std 1.
    assert torch.allclose(numeric.mean(0), torch.zeros(width), atol=1e-5)
    assert torch.allclose(numeric.std(0, unbiased=False), torch.ones(width), atol=1e-4)
    assert batch[LABEL].tolist() == [1.0, 0.0]


def test_hour_and_day_index_a_fixed_vocabulary_whatever_the_train_set_held() -> None:
    encoder = FeatureEncoder.fit(_rows())  # hours 0 and 23, days 3 and 2
    batch = encoder.encode(_rows(hour_of_day=[12, 0], day_of_week=[6, 0]))
    assert batch["hour_of_day"].tolist() == [13, 1]  # value + 1: 0 stays "unknown"
    assert batch["day_of_week"].tolist() == [7, 1]
    assert (encoder.vocab_sizes()["hour"], encoder.vocab_sizes()["weekday"]) == (25, 8)


def test_pandas_and_arrow_inputs_encode_alike_even_with_only_empty_lists() -> None:
    items = synthetic_items(30)
    samples = synthetic_samples(items, rows=50)
    encoder = FeatureEncoder.fit(samples)
    cold = _rows(user_genres=[[], []], user_recent_items=[[], []])
    for table in (samples, cold):
        from_arrow = encoder.encode(table)
        from_pandas = encoder.encode(table.to_pandas())
        assert from_arrow.keys() == from_pandas.keys()
        for name, tensor in from_arrow.items():
            assert torch.equal(tensor, from_pandas[name]), name


def test_save_and_load_give_identical_tensors(tmp_path) -> None:
    samples = synthetic_samples(synthetic_items(30), rows=60)
    encoder = FeatureEncoder.fit(samples)
    encoder.save(tmp_path)
    loaded = FeatureEncoder.load(tmp_path)
    before, after = encoder.encode(samples), loaded.encode(samples)
    assert loaded.vocab_sizes() == encoder.vocab_sizes()
    for name, tensor in before.items():
        assert torch.equal(tensor, after[name]), name


def test_missing_feature_column_is_a_clear_error() -> None:
    encoder = FeatureEncoder.fit(_rows())
    with pytest.raises(KeyError, match="item_avg_rating"):
        encoder.encode(_rows().drop_columns(["item_avg_rating"]))
