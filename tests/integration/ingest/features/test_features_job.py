"""The features job on a tiny lake with real Ray, and its publish into a real redis-server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.settings import Settings
from core.storage import OutputManifest, fingerprint, is_fresh, read_manifest, write_manifest
from core.tables import EVENTS, ITEMS, SAMPLES
from ingest.features.job import FeaturesSummary, build_features, feature_inputs
from ingest.features.online_publish import publish_online
from ingest.lake.versions import EVENT_ID_FORMAT, EVENT_IDS

pytestmark = pytest.mark.integration

USERS, ITEMS_RATED, RATINGS = 30, 20, 400
# Impressions: IGNORED of the never-rated item (label-0 samples), and ACTED_ON a minute before
# their user rated the item shown (no sample of their own).
IGNORED, ACTED_ON = 12, 6
NEVER_RATED = 99
DAY_MS = 86_400_000
START_MS = 1_600_000_000_000  # 2020-09-13: three months of events span month partitions


def _tiny_events() -> pd.DataFrame:
    """Ratings over 90 days, some of a user at the same moment, plus clicks to ignore (each
    on an item its user rated at that moment) and impressions."""
    rng = np.random.default_rng(7)
    ts = START_MS + rng.integers(0, 90 * DAY_MS, RATINGS)
    ts[1::10] = ts[0::10][: len(ts[1::10])]  # pairs of events at the very same millisecond
    users = rng.integers(1, USERS + 1, RATINGS)
    users[1::10] = users[0::10][: len(users[1::10])]
    ratings = pd.DataFrame(
        {
            "event_id": np.arange(RATINGS),
            "user_id": users,
            "item_id": rng.integers(1, ITEMS_RATED + 1, RATINGS),
            "event_type": "rating",
            "value": rng.choice(np.arange(1, 11) / 2, RATINGS),
            "ts": ts,
        }
    )
    clicks = ratings.head(20).assign(
        event_id=RATINGS + np.arange(20), event_type="click", value=1.0
    )
    ignored = pd.DataFrame(
        {
            "event_id": RATINGS + 20 + np.arange(IGNORED),
            "user_id": np.arange(1, IGNORED + 1),
            "item_id": NEVER_RATED,
            "event_type": "impression",
            "value": 0.0,
            "ts": START_MS + 45 * DAY_MS,
        }
    )
    acted_on = ratings.iloc[100 : 100 + ACTED_ON].assign(
        event_id=RATINGS + 20 + IGNORED + np.arange(ACTED_ON),
        event_type="impression",
        value=0.0,
        ts=lambda frame: frame["ts"] - 60_000,
    )
    events = [ratings, clicks, ignored, acted_on]
    return pd.concat(events, ignore_index=True).assign(source="test")


def _write_lake(paths: StarlingPaths, events: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(
        events.assign(ts=pd.to_datetime(events["ts"], unit="ms", utc=True)),
        preserve_index=False,
    )
    table = table.select(EVENTS.names).cast(EVENTS)
    month = pa.array(pd.to_datetime(events["ts"], unit="ms").dt.strftime("%Y-%m"))
    pds.write_dataset(
        table.append_column("month", month),
        paths.events,
        format="parquet",
        partitioning=pds.partitioning(pa.schema([("month", pa.string())]), flavor="hive"),
    )
    lake = OutputManifest(
        step="ingest", inputs={}, rows={"events": len(events)}, extra={EVENT_IDS: EVENT_ID_FORMAT}
    )
    write_manifest(paths.events, lake)
    item_ids = [*range(1, ITEMS_RATED + 1), NEVER_RATED]
    items = pa.table(
        {
            "item_id": item_ids,
            "title": [f"Item {i}" for i in item_ids],
            "genres": [["Drama", "Comedy", "War"][: 1 + i % 3] for i in item_ids],
            "year": [1990 + i for i in item_ids],
            "imdb_id": [None] * len(item_ids),
            "tmdb_id": [None] * len(item_ids),
        }
    ).cast(ITEMS)
    paths.items.mkdir(parents=True)
    pq.write_table(items, paths.items / "items.parquet")
    write_manifest(paths.items, OutputManifest(step="ingest", inputs={}, rows={"items": 21}))


@pytest.fixture(scope="module")
def raw_events() -> pd.DataFrame:
    return _tiny_events()


@pytest.fixture(scope="module")
def built(
    ray_local: None, raw_events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[StarlingPaths, FeaturesSummary]:
    settings = Settings(home=tmp_path_factory.mktemp("features") / "home")
    paths = StarlingPaths(settings.home)
    _write_lake(paths, raw_events)
    return paths, build_features(settings, paths)


@pytest.fixture(scope="module")
def built_in_tiny_parts(
    ray_local: None, raw_events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> StarlingPaths:
    """The same lake built in parts of about 16 rows: dozens of parts, each of whole users."""
    settings = Settings(home=tmp_path_factory.mktemp("tiny-parts") / "home")
    paths = StarlingPaths(settings.home)
    _write_lake(paths, raw_events)
    build_features(settings, paths, rows_per_part=16)
    return paths


def _read(folder: Path) -> pd.DataFrame:
    return pds.dataset(folder, format="parquet").to_table().to_pandas()


def _ts_ms(column: pd.Series) -> np.ndarray:
    return column.astype("datetime64[ms, UTC]").astype("int64").to_numpy()


def test_every_rating_is_one_sample_split_by_time(
    built: tuple[StarlingPaths, FeaturesSummary], raw_events: pd.DataFrame
) -> None:
    paths, summary = built
    train, test = _read(paths.train_samples), _read(paths.test_samples)
    assert summary.events == RATINGS + 20 + IGNORED + ACTED_ON
    assert summary.rating_events == RATINGS
    assert (len(train), len(test)) == (summary.train_samples, summary.test_samples)
    assert summary.negative_samples == train["negative"].sum() + test["negative"].sum() > 0
    samples = pd.concat([train, test])
    shown = samples[~samples["negative"] & samples["rating"].isna()]
    assert summary.impression_samples == len(shown) == IGNORED
    assert (shown["item_id"] == NEVER_RATED).all() and (shown["label"] == 0).all()
    assert sorted(shown["user_id"]) == list(range(1, IGNORED + 1))
    train, test = train[train["rating"].notna()], test[test["rating"].notna()]
    assert sorted([*train["event_id"], *test["event_id"]]) == sorted(
        raw_events.loc[raw_events["event_type"] == "rating", "event_id"]
    )
    assert _ts_ms(train["ts"]).max() < _ts_ms(test["ts"]).min()
    cutoff_ms = round(summary.cutoff.timestamp() * 1000)
    assert _ts_ms(test["ts"]).min() >= cutoff_ms > _ts_ms(train["ts"]).max()
    assert 0.15 < len(test) / RATINGS < 0.25
    assert pq.read_schema(next(paths.train_samples.glob("*.parquet"))).names == SAMPLES.names


def test_sample_counts_see_only_strictly_earlier_ratings(
    built: tuple[StarlingPaths, FeaturesSummary], raw_events: pd.DataFrame
) -> None:
    paths, _ = built
    samples = pd.concat([_read(paths.train_samples), _read(paths.test_samples)])
    ratings = raw_events[raw_events["event_type"] == "rating"]
    samples["ts_ms"] = _ts_ms(samples["ts"])
    for row in samples.itertuples():
        ts = row.ts_ms
        earlier_user = ratings[(ratings["user_id"] == row.user_id) & (ratings["ts"] < ts)]
        earlier_item = ratings[(ratings["item_id"] == row.item_id) & (ratings["ts"] < ts)]
        assert row.user_rating_count == len(earlier_user), row.event_id
        assert row.item_rating_count == len(earlier_item), row.event_id
        assert row.user_avg_rating == pytest.approx(
            earlier_user["value"].mean() if len(earlier_user) else 0.0, abs=1e-5
        )


def test_outputs_are_committed_and_fresh(built: tuple[StarlingPaths, FeaturesSummary]) -> None:
    paths, summary = built
    inputs = feature_inputs(paths)
    outputs = {
        paths.train_samples: summary.train_samples,
        paths.test_samples: summary.test_samples,
        paths.item_features: summary.item_features,
        paths.user_features: summary.user_features,
        paths.sequences: summary.sequences,
    }
    for folder, rows in outputs.items():
        manifest = read_manifest(folder)
        assert manifest is not None and manifest.rows["rows"] == rows, folder
        assert is_fresh(folder, inputs), folder
        assert not is_fresh(folder, {**inputs, "events": "another-lake"}), folder
    assert is_fresh(paths.stats, inputs)
    assert {p.name for p in paths.stats.iterdir()} >= {"stats.json", "rating_histogram.png"}
    assert not list(paths.home.rglob(".*.tmp"))


def test_feature_tables_cover_users_and_catalog(
    built: tuple[StarlingPaths, FeaturesSummary], raw_events: pd.DataFrame
) -> None:
    paths, _ = built
    ratings = raw_events[raw_events["event_type"] == "rating"]
    items = _read(paths.item_features).set_index("item_id")
    users = _read(paths.user_features).set_index("user_id")
    assert sorted(items.index) == [*range(1, ITEMS_RATED + 1), NEVER_RATED]
    assert items.loc[NEVER_RATED, "item_rating_count"] == 0
    assert items["item_rating_count"].to_dict() == {
        **{i: 0 for i in items.index},
        **ratings.groupby("item_id").size().to_dict(),
    }
    assert users["user_rating_count"].to_dict() == ratings.groupby("user_id").size().to_dict()


def test_sequences_hold_train_period_positives_in_order(
    built: tuple[StarlingPaths, FeaturesSummary], raw_events: pd.DataFrame
) -> None:
    paths, summary = built
    cutoff_ms = round(summary.cutoff.timestamp() * 1000)
    ratings = raw_events[raw_events["event_type"] == "rating"]
    positives = ratings[(ratings["ts"] < cutoff_ms) & (ratings["value"] >= 3.5)]
    expected = {
        user: group.sort_values(["ts", "event_id"])["item_id"].tolist()
        for user, group in positives.groupby("user_id")
        if len(group) >= 2
    }
    sequences = _read(paths.sequences)
    assert {row.user_id: list(row.items) for row in sequences.itertuples()} == expected


def test_publish_online_serves_profiles_seen_and_popularity(
    built: tuple[StarlingPaths, FeaturesSummary], raw_events: pd.DataFrame, redis_url: str
) -> None:
    paths, summary = built
    store = OnlineStore(redis_url)
    written = publish_online(Settings(home=paths.home), paths, store)
    assert written == summary.user_features
    users = _read(paths.user_features).set_index("user_id")
    user_id = int(users["user_rating_count"].idxmax())
    profile = store.profile(user_id)
    assert profile is not None
    assert profile.user_rating_count == users.loc[user_id, "user_rating_count"]
    assert profile.user_recent_items == list(users.loc[user_id, "user_recent_items"])
    ratings = raw_events[raw_events["event_type"] == "rating"]
    assert store.seen(user_id) == set(ratings.loc[ratings["user_id"] == user_id, "item_id"])
    assert profile.user_last_ts == ratings.loc[ratings["user_id"] == user_id, "ts"].max()
    items = _read(paths.item_features)
    best = items.loc[items["item_popularity"].idxmax()]
    assert store.popular(1)[0] == (best["item_id"], pytest.approx(best["item_popularity"]))
    assert NEVER_RATED not in {item for item, _ in store.popular(100)}
    assert store.snapshot() == fingerprint(paths.user_features)


def test_tiny_parts_never_split_a_user(
    built: tuple[StarlingPaths, FeaturesSummary], built_in_tiny_parts: StarlingPaths
) -> None:
    """A user whose rows landed in two parts would get two latest rows or wrong counts."""
    paths, _ = built
    keys = {
        "user_features": "user_id",
        "item_features": "item_id",
        "sequences": "user_id",
        "train_samples": "event_id",
        "test_samples": "event_id",
    }
    for name, key in keys.items():
        expected = _read(getattr(paths, name)).sort_values(key, ignore_index=True)
        actual = _read(getattr(built_in_tiny_parts, name)).sort_values(key, ignore_index=True)
        assert actual[key].is_unique, name
        pd.testing.assert_frame_equal(actual, expected, obj=name)
