"""Features of hand-picked users and items of the real ml-latest-small, checked with pandas.

The expected values come straight from ratings.csv and movies.csv, not from the lake, so the
whole path (ingest, rating rows, shuffles, windows) is checked against the plain definitions.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pds
import pytest

from core.paths import StarlingPaths
from core.settings import Settings
from ingest.features.job import FeaturesSummary, build_features
from ingest.lake.job import ingest_source

pytestmark = pytest.mark.integration

USERS = (1, 414)
ITEMS = (1, 356)  # Toy Story, Forrest Gump
# (user, item) ratings whose samples are checked as of their own moment.
SAMPLES = ((1, 1), (414, 356), (1, 2959))
THRESHOLD = 3.5
DAY_MS = 86_400_000
YEAR_AT_END = re.compile(r"\((\d{4})[^)]*\)\s*$")


@pytest.fixture(scope="module")
def source(movielens_small: Path) -> pd.DataFrame:
    """Every rating with its item's year and genre list, ts in milliseconds."""
    ratings = pd.read_csv(movielens_small / "ratings.csv")
    movies = pd.read_csv(movielens_small / "movies.csv")
    movies["year"] = movies["title"].map(
        lambda title: float(m.group(1)) if (m := YEAR_AT_END.search(title.strip())) else np.nan
    )
    movies["genre_list"] = movies["genres"].map(
        lambda genres: [] if genres == "(no genres listed)" else genres.split("|")
    )
    ratings["ts_ms"] = ratings["timestamp"] * 1000
    return ratings.merge(movies[["movieId", "year", "genre_list"]], on="movieId", how="left")


@pytest.fixture(scope="module")
def built(
    ray_local: None, movielens_small: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[StarlingPaths, FeaturesSummary]:
    settings = Settings(home=tmp_path_factory.mktemp("ml-small") / "home")
    paths = StarlingPaths(settings.home)
    ingest_source(settings, paths, movielens_small)
    return paths, build_features(settings, paths)


def _read(folder: Path) -> pd.DataFrame:
    return pds.dataset(folder, format="parquet").to_table().to_pandas()


def _top_genres(history: pd.DataFrame) -> list[str]:
    """Five most frequent genres of the positive ratings, ties by name."""
    positives = history[history["rating"] >= THRESHOLD]
    counts = positives["genre_list"].explode().dropna().value_counts()
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [genre for genre, _ in ranked[:5]]


def _assert_user_side(row: pd.Series, history: pd.DataFrame) -> None:
    """`row`'s user features equal the plain statistics of `history` (that user's ratings)."""
    years = history["year"].dropna()
    assert row["user_rating_count"] == len(history)
    assert row["user_avg_rating"] == pytest.approx(history["rating"].mean(), abs=1e-5)
    assert row["user_rating_stddev"] == pytest.approx(history["rating"].std(ddof=0), abs=1e-5)
    assert row["user_avg_release_year"] == pytest.approx(years.mean(), abs=1e-3)
    assert row["user_release_year_stddev"] == pytest.approx(years.std(ddof=0), abs=1e-3)
    assert list(row["user_genres"]) == _top_genres(history)
    _assert_recent_positives(list(row["user_recent_items"]), history)


def _assert_recent_positives(recent: list[int], history: pd.DataFrame) -> None:
    """The newest five positives, newest first; among equal timestamps any order is right."""
    positives = history[history["rating"] >= THRESHOLD].set_index("movieId")["ts_ms"]
    assert len(recent) == min(5, len(positives))
    assert set(recent) <= set(positives.index)
    newest = sorted(positives, reverse=True)[:5]
    assert [positives[item] for item in recent] == newest


def _assert_item_side(row: pd.Series, history: pd.DataFrame) -> None:
    assert row["item_rating_count"] == len(history)
    assert row["item_avg_rating"] == pytest.approx(history["rating"].mean(), abs=1e-5)
    assert row["item_rating_stddev"] == pytest.approx(history["rating"].std(ddof=0), abs=1e-5)


def test_latest_user_features_match_pandas(
    built: tuple[StarlingPaths, FeaturesSummary], source: pd.DataFrame
) -> None:
    paths, summary = built
    users = _read(paths.user_features).set_index("user_id")
    assert summary.user_features == source["userId"].nunique() == len(users)
    for user in USERS:
        _assert_user_side(users.loc[user], source[source["userId"] == user])


def test_latest_item_features_match_pandas(
    built: tuple[StarlingPaths, FeaturesSummary], source: pd.DataFrame, movielens_small: Path
) -> None:
    paths, _ = built
    items = _read(paths.item_features).set_index("item_id")
    movies = pd.read_csv(movielens_small / "movies.csv").set_index("movieId")
    newest_ms = source["ts_ms"].max()
    half_life_days = Settings().data.popularity_half_life_days
    for item in ITEMS:
        row, history = items.loc[item], source[source["movieId"] == item]
        _assert_item_side(row, history)
        decay = np.exp2(-(newest_ms - history["ts_ms"]) / DAY_MS / half_life_days)
        assert row["item_popularity"] == pytest.approx(decay.sum(), rel=1e-4)
        assert list(row["item_genres"]) == movies.loc[item, "genres"].split("|")[:3]
        assert row["release_year"] == int(YEAR_AT_END.search(movies.loc[item, "title"]).group(1))


def test_samples_see_only_ratings_strictly_before_them(
    built: tuple[StarlingPaths, FeaturesSummary], source: pd.DataFrame
) -> None:
    paths, summary = built
    samples = pd.concat([_read(paths.train_samples), _read(paths.test_samples)])
    samples = samples[~samples["negative"]]
    assert len(samples) == len(source)
    samples = samples.set_index(["user_id", "item_id"])
    for user, item in SAMPLES:
        row = samples.loc[(user, item)]
        rated = source[(source["userId"] == user) & (source["movieId"] == item)].iloc[0]
        before = source[source["ts_ms"] < rated["ts_ms"]]
        assert row["label"] == int(rated["rating"] >= THRESHOLD)
        _assert_user_side(row, before[before["userId"] == user])
        _assert_item_side(row, before[before["movieId"] == item])
    cutoff_ms = summary.cutoff.timestamp() * 1000
    assert (source["ts_ms"] >= cutoff_ms).mean() == pytest.approx(0.2, abs=0.01)
