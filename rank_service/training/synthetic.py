"""Synthetic rank data, and ranking versions fitted on it in process, in seconds: serving and
training tests and benchmarks need item features, samples and registered versions, not a lake
or Ray Train runs.

The label leans on two things a ranker can learn: the item being a comedy and its average
rating. Every schema quirk of real samples is present: list columns of varying length, empty
lists, and null numerics for users without history (no last rating, so no time since it); a
row's context is that of its ts. A fitted version here is one epoch of `fit_local` on such
samples.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.context import context_columns
from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings
from core.tables import ITEM_FEATURES, MAX_RECENT_ITEMS, MAX_USER_GENRES, SAMPLES
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.training.fit import fit_local
from rank_service.training.holdout import model_config
from rank_service.training.splits import time_tail_split

# The SAMPLES columns that describe the item rather than the user or the event.
_ITEM_SIDE = (
    "release_year",
    "item_genres",
    "item_rating_count",
    "item_avg_rating",
    "item_rating_stddev",
)
GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Animation")


def _genre_lists(rng: np.random.Generator, rows: int, most: int) -> list[list[str]]:
    return [
        list(rng.choice(GENRES, size=rng.integers(1, most + 1), replace=False)) for _ in range(rows)
    ]


def synthetic_items(n_items: int = 200, seed: int = 0) -> pa.Table:
    """ITEM_FEATURES rows for item ids 1..n_items."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "item_id": np.arange(1, n_items + 1, dtype=np.int64),
            "release_year": rng.integers(1950, 2020, n_items).astype(np.int32),
            "item_genres": _genre_lists(rng, n_items, 3),
            "item_rating_count": rng.integers(0, 500, n_items),
            "item_avg_rating": rng.uniform(1.0, 5.0, n_items).astype(np.float32),
            "item_rating_stddev": rng.uniform(0.0, 1.5, n_items).astype(np.float32),
            "item_popularity": rng.uniform(0.0, 1.0, n_items).astype(np.float32),
        },
        schema=ITEM_FEATURES,
    )


def synthetic_samples(
    items: pa.Table, rows: int = 2000, n_users: int = 100, seed: int = 0, negatives: int = 0
) -> pa.Table:
    """SAMPLES rows over the given items for user ids 1..n_users; about a fifth lack history.

    With `negatives`, each rated row is followed by that many sampled negatives (see
    `with_negatives`); without, the rows are the same as before sampled negatives existed.
    """
    rng = np.random.default_rng(seed)
    item_rows = rng.integers(0, items.num_rows, rows)
    picked = items.take(item_rows)
    comedy = np.array(["Comedy" in g for g in picked.column("item_genres").to_pylist()])
    avg = picked.column("item_avg_rating").to_numpy()
    logit = 3.0 * comedy + 1.5 * (avg - 3.0) - 1.5
    label = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    cold = rng.uniform(size=rows) < 0.2
    count = np.where(cold, 0, rng.integers(1, 300, rows))

    def user_numeric(low: float, high: float) -> pa.Array:
        return pa.array(rng.uniform(low, high, rows).astype(np.float32), mask=cold)

    item_ids = items.column("item_id").to_numpy()
    recent = [
        []
        if c
        else [int(i) for i in rng.choice(item_ids, size=rng.integers(1, MAX_RECENT_ITEMS + 1))]
        for c in cold
    ]
    genres = [
        [] if c else g for c, g in zip(cold, _genre_lists(rng, rows, MAX_USER_GENRES), strict=True)
    ]
    start = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
    ts = start + np.arange(rows, dtype=np.int64) * 60_000
    # Gaps from a second to about four months, as between a user's ratings in MovieLens.
    gaps = (1000 * 10 ** rng.uniform(0.0, 7.0, rows)).astype(np.int64)
    last_ts = pa.array(ts - gaps, mask=cold)
    columns = {
        "event_id": np.arange(rows, dtype=np.int64),
        "negative": np.zeros(rows, dtype=bool),
        "sample_logq": np.zeros(rows, dtype=np.float32),
        "user_id": rng.integers(1, n_users + 1, rows),
        "item_id": picked.column("item_id"),
        "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
        "rating": np.where(label == 1, 4.5, 2.0).astype(np.float32),
        "label": label,
        "release_year": picked.column("release_year"),
        "item_genres": picked.column("item_genres"),
        "item_rating_count": picked.column("item_rating_count"),
        "item_avg_rating": picked.column("item_avg_rating"),
        "item_rating_stddev": picked.column("item_rating_stddev"),
        "user_rating_count": count,
        "user_avg_rating": user_numeric(1.0, 5.0),
        "user_rating_stddev": user_numeric(0.0, 1.5),
        "user_avg_release_year": user_numeric(1960.0, 2015.0),
        "user_release_year_stddev": user_numeric(0.0, 20.0),
        "user_genres": genres,
        "user_recent_items": recent,
        "user_last_ts": last_ts,
        **context_columns(ts, last_ts),
    }
    samples = pa.table(columns, schema=SAMPLES)
    return with_negatives(samples, items, negatives, seed) if negatives else samples


def with_negatives(samples: pa.Table, items: pa.Table, negatives: int, seed: int) -> pa.Table:
    """`samples` with `negatives` sampled-negative rows per row, in time order.

    A negative copies its rated row's user, moment and user features, and takes an item drawn
    with probability q proportional to `item_popularity` (plus a floor): label 0, no rating,
    `negative` true. Every row's `sample_logq` becomes log q of its item. Unlike the features
    job's sampler this one does not check that the user never rated the item: for tests, a
    rare clash does not matter.
    """
    rng = np.random.default_rng([seed, 1])
    popularity = items.column("item_popularity").to_numpy().astype(np.float64) + 1e-2
    q = popularity / popularity.sum()
    logq = np.log(q).astype(np.float32)
    drawn = rng.choice(items.num_rows, size=samples.num_rows * negatives, p=q)
    source = np.repeat(np.arange(samples.num_rows), negatives)
    picked = items.take(drawn)
    rows = samples.take(source)
    size = rows.num_rows
    replaced = {
        "event_id": pa.array(samples.num_rows + np.arange(size, dtype=np.int64)),
        "item_id": picked.column("item_id"),
        "rating": pa.nulls(size, pa.float32()),
        "label": pa.array(np.zeros(size, dtype=np.int8)),
        "negative": pa.array(np.ones(size, dtype=bool)),
        "sample_logq": pa.array(logq[drawn]),
        **{name: picked.column(name) for name in _ITEM_SIDE},
    }
    for name, values in replaced.items():
        rows = rows.set_column(SAMPLES.get_field_index(name), SAMPLES.field(name), values)
    positions = pd.Index(items.column("item_id").to_numpy()).get_indexer(
        samples.column("item_id").to_numpy()
    )
    samples = samples.set_column(
        SAMPLES.get_field_index("sample_logq"),
        SAMPLES.field("sample_logq"),
        pa.array(logq[positions]),
    )
    both = pa.concat_tables([samples, rows])
    # Stable: each row's negatives follow it, as they share its moment.
    order = np.argsort(both.column("ts").cast(pa.int64()).to_numpy(), kind="stable")
    return both.take(order)


def write_item_features(paths: StarlingPaths, items: pa.Table) -> None:
    paths.item_features.mkdir(parents=True, exist_ok=True)
    pq.write_table(items, paths.item_features / "part-0.parquet")
    (paths.item_features / "_manifest.json").write_text("{}")


def publish_fitted(
    paths: StarlingPaths, items: pa.Table, name: str, seed: int = 0, rows: int = 2000
) -> ModelManifest:
    """Fit `name` for one epoch on synthetic samples over `items` and register it."""
    samples = synthetic_samples(items, rows=rows, seed=seed)
    train, validation = time_tail_split(samples, 0.2)
    encoder = FeatureEncoder.fit(train)
    rank = RankSettings(model=name, epochs=1, batch_size=64, lr=1e-2, hidden=[32, 16])
    config = model_config(name, rank, encoder)
    fitted = fit_local(config, encoder, train, validation, rank, seed=seed)
    state = fitted.model.state_dict()
    return Registry(paths.registry).publish(
        "rank",
        name,
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={"val_roc_auc": fitted.val_roc_auc},
        data_snapshot=f"synthetic-{seed}",
    )
