"""Sampled negatives: never a rated item, point in time, deterministic, drawn from q."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.data_settings import DataSettings
from core.tables import CONTEXT, EVENTS, ITEMS, SAMPLES
from ingest.features.interactions import interaction_rows
from ingest.features.item_attributes import catalog_attributes
from ingest.features.negatives import (
    ITEM_COLUMNS,
    NegativeSampler,
    draw_negatives,
    negative_sampler,
)
from ingest.features.negatives import with_negatives as add_negatives
from ingest.features.point_in_time import USER_SIDE, with_item_side, with_user_side
from ingest.features.samples import to_samples
from tests.support.features_hand_case import hand_events, hand_items

DATA = DataSettings()

THRESHOLD = 3.5
USERS, ITEMS_RATED, RATINGS = 300, 80, 3000


def _events() -> pa.Table:
    """Ratings with a popularity skew (item 1 most rated), ties of time, one user per part."""
    rng = np.random.default_rng(11)
    weights = 1.0 / np.arange(1, ITEMS_RATED + 1)
    items = rng.choice(np.arange(1, ITEMS_RATED + 1), RATINGS, p=weights / weights.sum())
    table = pd.DataFrame(
        {
            "event_id": np.arange(RATINGS) * 7 + 3,
            "user_id": rng.integers(1, USERS + 1, RATINGS),
            "item_id": items,
            "event_type": "rating",
            "value": rng.choice(np.arange(1, 11) / 2, RATINGS),
            "ts": pd.to_datetime(rng.integers(0, 50, RATINGS) * 1000, unit="ms", utc=True),
            "source": "test",
        }
    )
    return pa.Table.from_pandas(table, preserve_index=False).cast(EVENTS)


def _catalog() -> pa.Table:
    ids = list(range(1, ITEMS_RATED + 2))
    return catalog_attributes(
        pa.table(
            {
                "item_id": ids,
                "title": [str(i) for i in ids],
                "genres": [["Drama", "War"][: 1 + i % 2] for i in ids],
                "year": [None if i % 5 == 0 else 1900 + i for i in ids],
                "imdb_id": [None] * len(ids),
                "tmdb_id": [None] * len(ids),
            }
        ).cast(ITEMS)
    )


def _rated_samples(events: pa.Table, catalog: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The rating rows with their item side, and their SAMPLES rows (logq still 0)."""
    ratings = with_item_side(interaction_rows(events, catalog, DATA.implicit_rating))
    return ratings, to_samples(with_user_side(ratings, THRESHOLD), THRESHOLD)


def _sampler(
    ratings: pa.Table, per_sample: int = 2, power: float = 1.0, seed: int = 42
) -> NegativeSampler:
    return negative_sampler(ratings, per_sample, power, seed)


@pytest.fixture(scope="module")
def built() -> tuple[pa.Table, pa.Table, pd.DataFrame]:
    """(rated samples, samples with negatives, the ratings as pandas)."""
    catalog = _catalog()
    ratings, rated = _rated_samples(_events(), catalog)
    samples = add_negatives(rated, _sampler(ratings), catalog)
    return rated, samples, ratings.select(["user_id", "item_id", "ts_ms", "rating"]).to_pandas()


def _negatives(samples: pa.Table) -> pd.DataFrame:
    frame = samples.filter(samples["negative"]).to_pandas()
    return frame.assign(ts_ms=frame["ts"].astype("datetime64[ms, UTC]").astype("int64"))


def test_rows_follow_the_schema_and_about_two_negatives_per_rated_row(
    built: tuple[pa.Table, pa.Table, pd.DataFrame],
) -> None:
    rated, samples, _ = built
    assert samples.schema == SAMPLES
    negatives = _negatives(samples)
    assert 0.9 * 2 * rated.num_rows <= len(negatives) <= 2 * rated.num_rows
    assert negatives["rating"].isna().all() and (negatives["label"] == 0).all()
    ids = samples["event_id"].to_numpy()
    assert len(np.unique(ids)) == len(ids)
    assert not np.isin(negatives["event_id"], rated["event_id"].to_numpy()).any()


def test_a_negative_is_never_an_item_its_user_rated(
    built: tuple[pa.Table, pa.Table, pd.DataFrame],
) -> None:
    _, samples, ratings = built
    negatives = _negatives(samples)
    rated_pairs = set(zip(ratings["user_id"], ratings["item_id"], strict=True))
    assert not rated_pairs & set(zip(negatives["user_id"], negatives["item_id"], strict=True))


def test_an_anchor_draws_an_item_once() -> None:
    ratings, rated = _rated_samples(_events(), _catalog())
    sampler = _sampler(ratings, per_sample=6)
    columns = [rated[name].to_numpy() for name in ("event_id", "user_id", "item_id")]
    anchors, ranks = draw_negatives(sampler, *columns)
    assert len(anchors) > 5 * rated.num_rows
    pairs = anchors * len(sampler.history.item_ids) + ranks
    assert len(np.unique(pairs)) == len(pairs)


def test_item_side_counts_only_that_items_ratings_strictly_before_the_moment(
    built: tuple[pa.Table, pa.Table, pd.DataFrame],
) -> None:
    _, samples, ratings = built
    catalog = _catalog().to_pandas().set_index("item_id")
    for row in _negatives(samples).head(400).itertuples():
        before = ratings[(ratings["item_id"] == row.item_id) & (ratings["ts_ms"] < row.ts_ms)]
        values = before["rating"].to_numpy(np.float64)
        assert row.item_rating_count == len(values)
        assert row.item_avg_rating == pytest.approx(values.mean() if len(values) else 0.0, abs=1e-5)
        assert row.item_rating_stddev == pytest.approx(
            values.std() if len(values) else 0.0, abs=1e-5
        )
        year = catalog.loc[row.item_id, "release_year"]
        assert (pd.isna(row.release_year) and pd.isna(year)) or row.release_year == year
        assert list(row.item_genres) == list(catalog.loc[row.item_id, "item_genres"])


def test_user_side_and_context_are_the_anchors(
    built: tuple[pa.Table, pa.Table, pd.DataFrame],
) -> None:
    rated, samples, _ = built
    anchors = rated.to_pandas()
    anchors = anchors.assign(ts_ms=anchors["ts"].astype("datetime64[ms, UTC]").astype("int64"))
    anchors = anchors.drop_duplicates(["user_id", "ts_ms"]).set_index(["user_id", "ts_ms"])
    negatives = _negatives(samples)
    # A user's first moment has no earlier rating: its negatives must carry the null too.
    assert negatives["seconds_since_last_event"].isna().any()
    for row in negatives.head(400).itertuples():
        anchor = anchors.loc[(row.user_id, row.ts_ms)]
        for name in [*USER_SIDE.names, *CONTEXT.names]:
            value, expected = getattr(row, name), anchor[name]
            if isinstance(expected, np.ndarray):
                assert list(value) == list(expected), name
            else:
                assert value == expected or (pd.isna(value) and pd.isna(expected)), name


def test_hand_computed_item_side_at_a_shared_moment() -> None:
    """User 3 rates item 10 at 300, the moment of e4/e5/e6: item 30's ratings at 300 are not
    before it, item 20 has e2 (3.0 at 200) before it."""
    extra = hand_events().slice(0, 1).to_pylist()[0] | {"event_id": 77, "user_id": 3}
    extra["ts"] = pd.Timestamp(300, unit="ms", tz="UTC")
    events = pa.concat_tables([hand_events(), pa.Table.from_pylist([extra], schema=EVENTS)])
    catalog = catalog_attributes(hand_items())
    ratings, rated = _rated_samples(events, catalog)
    samples = add_negatives(rated, _sampler(ratings), catalog)
    negatives = {row["item_id"]: row for row in samples.filter(samples["negative"]).to_pylist()}
    expected = {
        20: (1, 3.0, 0.0, 2000, ["Drama", "War"]),
        30: (0, 0.0, 0.0, None, ["Comedy", "Drama", "Romance"]),
    }
    assert negatives and set(negatives) <= set(expected)
    for item, row in negatives.items():
        assert row["user_id"] == 3 and int(row["ts"].timestamp() * 1000) == 300
        columns = ("item_rating_count", "item_avg_rating", "item_rating_stddev", *ITEM_COLUMNS[:2])
        assert tuple(row[c] for c in columns) == expected[item]


def test_the_hand_case_has_no_negatives_every_user_rated_every_rated_item() -> None:
    catalog = catalog_attributes(hand_items())
    ratings, rated = _rated_samples(hand_events(), catalog)
    assert add_negatives(rated, _sampler(ratings), catalog).num_rows == rated.num_rows


def test_deterministic_for_a_seed_whatever_the_parts() -> None:
    catalog = _catalog()
    ratings, rated = _rated_samples(_events(), catalog)
    sampler = _sampler(ratings)
    whole = add_negatives(rated, sampler, catalog)
    assert add_negatives(rated, sampler, catalog).equals(whole)
    odd = pc.equal(pc.bit_wise_and(rated["user_id"], 1), 1)
    halves = [add_negatives(rated.filter(keep), sampler, catalog) for keep in (odd, pc.invert(odd))]
    assert pa.concat_tables(halves).sort_by("event_id").equals(whole.sort_by("event_id"))
    other = add_negatives(rated, _sampler(ratings, seed=43), catalog)
    assert not other["item_id"].equals(whole["item_id"])


def test_popularity_power_shifts_draws_toward_popular_items() -> None:
    catalog = _catalog()
    ratings, rated = _rated_samples(_events(), catalog)
    counts = ratings["item_id"].to_pandas().value_counts()

    def mean_count(power: float) -> float:
        negatives = _negatives(add_negatives(rated, _sampler(ratings, power=power), catalog))
        return float(counts.loc[negatives["item_id"]].mean())

    assert mean_count(1.0) > 1.5 * mean_count(0.0)


def test_logq_of_rated_rows_is_the_log_of_their_items_q() -> None:
    catalog = _catalog()
    ratings, rated = _rated_samples(_events(), catalog)
    counts = ratings["item_id"].to_pandas().value_counts()
    for power in (0.0, 0.5, 1.0):
        samples = add_negatives(rated, _sampler(ratings, power=power), catalog).to_pandas()
        weights = counts.astype(np.float64) ** power
        log_q = np.log(weights / weights.sum())
        assert np.allclose(samples["sample_logq"], log_q.loc[samples["item_id"]], atol=1e-5)


def test_no_negatives_writes_the_rated_rows_with_their_logq() -> None:
    catalog = _catalog()
    ratings, rated = _rated_samples(_events(), catalog)
    samples = add_negatives(rated, _sampler(ratings, per_sample=0), catalog)
    assert not pc.any(samples["negative"]).as_py()
    without_logq = [name for name in SAMPLES.names if name != "sample_logq"]
    assert samples.select(without_logq).equals(rated.select(without_logq))
