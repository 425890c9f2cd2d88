"""Behaviour of the synthetic MovieLens generator, as a user of the data would notice it."""

import csv
import datetime
import hashlib
import pathlib

import numpy as np
import pandas as pd
import pydantic
import pytest

from ingest.synth.generate import SynthConfig, SynthSummary, generate

CONFIG = SynthConfig(users=400, items=3000, ratings=40_000, seed=7, chunk_ratings=7_000)
FILES = ("movies.csv", "ratings.csv", "links.csv", "tags.csv")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, SynthSummary, list]:
    out = tmp_path_factory.mktemp("synth")
    calls: list[tuple[int, int]] = []
    summary = generate(CONFIG, out, progress=lambda done, total: calls.append((done, total)))
    return out, summary, calls


@pytest.fixture(scope="module")
def ratings(run: tuple[pathlib.Path, SynthSummary, list]) -> pd.DataFrame:
    return pd.read_csv(run[0] / "ratings.csv", dtype={"rating": str})


@pytest.fixture(scope="module")
def movies(run: tuple[pathlib.Path, SynthSummary, list]) -> pd.DataFrame:
    return pd.read_csv(run[0] / "movies.csv")


def _digests(out: pathlib.Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}


def _year_start(year: int) -> int:
    return int(datetime.datetime(year, 1, 1, tzinfo=datetime.UTC).timestamp())


def test_headers_match_movielens(run: tuple[pathlib.Path, SynthSummary, list]) -> None:
    expected = {
        "movies.csv": "movieId,title,genres",
        "ratings.csv": "userId,movieId,rating,timestamp",
        "links.csv": "movieId,imdbId,tmdbId",
        "tags.csv": "userId,movieId,tag,timestamp",
    }
    for name, header in expected.items():
        assert (run[0] / name).read_text().split("\n", 1)[0] == header


def test_exact_rating_count_summary_and_progress(
    run: tuple[pathlib.Path, SynthSummary, list], ratings: pd.DataFrame
) -> None:
    _, summary, calls = run
    assert len(ratings) == CONFIG.ratings == summary.ratings
    assert summary.tags == len(pd.read_csv(run[0] / "tags.csv"))
    assert len(calls) > 1, "several chunks expected"
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (CONFIG.ratings, CONFIG.ratings)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: pathlib.Path) -> None:
    small = SynthConfig(users=80, items=300, ratings=4_000, seed=-3, chunk_ratings=900)
    generate(small, tmp_path / "a")
    generate(small, tmp_path / "b")
    generate(small.model_copy(update={"seed": 4}), tmp_path / "c")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    first, other = _digests(tmp_path / "a"), _digests(tmp_path / "c")
    assert all(first[name] != other[name] for name in FILES)


def test_star_distribution_looks_like_movielens(ratings: pd.DataFrame) -> None:
    allowed = {f"{s / 2:.1f}" for s in range(1, 11)}
    assert set(ratings.rating) <= allowed
    stars = ratings.rating.astype(float)
    assert 3.2 < stars.mean() < 3.9
    shares = stars.value_counts(normalize=True)
    assert shares.idxmax() == 4.0
    whole = shares[shares.index % 1 == 0].sum()
    assert whole > 0.6, "whole stars are more common than half stars"


def test_popularity_has_a_long_tail(ratings: pd.DataFrame) -> None:
    counts = ratings.movieId.value_counts()
    top = counts.iloc[: CONFIG.items // 10].sum()
    assert top / len(ratings) > 0.4


def test_no_user_rates_a_movie_twice(ratings: pd.DataFrame) -> None:
    assert not ratings.duplicated(["userId", "movieId"]).any()


def test_user_activity_is_long_tailed_with_a_floor(ratings: pd.DataFrame) -> None:
    per_user = ratings.groupby("userId").size()
    assert len(per_user) == CONFIG.users
    assert per_user.min() >= 5
    assert per_user.max() > 5 * per_user.median()


def test_timestamps_in_period_and_after_release(
    ratings: pd.DataFrame, movies: pd.DataFrame
) -> None:
    assert ratings.timestamp.min() >= _year_start(CONFIG.start_year)
    assert ratings.timestamp.max() < _year_start(CONFIG.end_year)
    year = movies.set_index("movieId").title.str.extract(r"\((\d{4})\)$")[0].astype(int)
    released = year.map(_year_start)
    assert (ratings.timestamp >= ratings.movieId.map(released)).all()
    assert (ratings.groupby("userId").timestamp.diff().dropna() >= 0).all(), "sorted by time"


def test_movies_file_is_well_formed(run: tuple[pathlib.Path, SynthSummary, list]) -> None:
    with (run[0] / "movies.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == CONFIG.items
    assert all(len(row) == 3 for row in rows)
    ids = [int(row[0]) for row in rows]
    assert ids == sorted(set(ids)) and ids[0] == 1
    assert ids[-1] > len(ids), "ids have gaps as in MovieLens"
    with_comma = [row[1] for row in rows if "," in row[1]]
    assert with_comma, "some titles need quoting"
    raw = (run[0] / "movies.csv").read_text()
    assert all(f'"{title}"' in raw for title in with_comma)
    genres = {g for row in rows for g in row[2].split("|")}
    assert "Drama" in genres and "(no genres listed)" in genres
    assert len(genres) <= 19


def test_links_cover_movies_with_padded_imdb_ids(
    run: tuple[pathlib.Path, SynthSummary, list], movies: pd.DataFrame
) -> None:
    links = pd.read_csv(run[0] / "links.csv", dtype=str)
    assert links.movieId.astype(int).tolist() == movies.movieId.tolist()
    assert links.imdbId.str.fullmatch(r"\d{7}").all() and links.imdbId.is_unique
    assert links.tmdbId.str.fullmatch(r"\d+").all()


def test_tags_are_few_and_follow_ratings(
    run: tuple[pathlib.Path, SynthSummary, list], ratings: pd.DataFrame
) -> None:
    tags = pd.read_csv(run[0] / "tags.csv")
    assert 0 < len(tags) < 0.05 * len(ratings)
    joined = tags.merge(ratings, on=["userId", "movieId"], suffixes=("_tag", ""))
    assert len(joined) == len(tags), "every tag is on a rated movie"
    assert (joined.timestamp_tag >= joined.timestamp).all()


def _split(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    test = np.random.default_rng(0).random(len(ratings)) < 0.2
    return ratings[~test], ratings[test]


def test_genre_taste_predicts_ratings(ratings: pd.DataFrame, movies: pd.DataFrame) -> None:
    stars = ratings.assign(rating=ratings.rating.astype(float))
    train, test = _split(stars)
    genre = movies.assign(genre=movies.genres.str.split("|")).explode("genre")[["movieId", "genre"]]
    user_mean = train.groupby("userId").rating.mean()
    residual = train.merge(genre, on="movieId")
    residual["res"] = residual.rating - residual.userId.map(user_mean)
    stats = residual.groupby(["userId", "genre"]).res.agg(["sum", "count"])
    offset = (stats["sum"] / (stats["count"] + 5)).rename("offset").reset_index()
    per_genre = test.merge(genre, on="movieId").merge(offset, on=["userId", "genre"], how="left")
    boost = per_genre.fillna({"offset": 0}).groupby(["userId", "movieId"]).offset.mean()
    test = test.set_index(["userId", "movieId"])
    base = test.index.get_level_values("userId").map(user_mean).to_numpy()

    def rmse(prediction: np.ndarray | float) -> float:
        return float(np.sqrt(np.mean((test.rating.to_numpy() - prediction) ** 2)))

    with_genre = rmse(base + boost.reindex(test.index).to_numpy())
    assert with_genre < rmse(base) * 0.97 < rmse(train.rating.mean()) * 0.97


def test_collaborative_model_beats_popularity(ratings: pd.DataFrame) -> None:
    user = ratings.userId.astype("category").cat.codes.to_numpy()
    item = ratings.movieId.astype("category").cat.codes.to_numpy()
    held = np.random.default_rng(1).random(len(ratings)) < 0.2
    seen = np.zeros((user.max() + 1, item.max() + 1), dtype=np.float32)
    seen[user[~held], item[~held]] = 1
    truth = np.zeros(seen.shape, dtype=bool)
    truth[user[held], item[held]] = True
    # EASE: a closed-form item-item model, about the simplest that learns co-occurrence.
    gram = seen.T @ seen + 100 * np.eye(seen.shape[1], dtype=np.float32)
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0)

    def recall(scores: np.ndarray, k: int = 20) -> float:
        scores = np.where(seen > 0, -np.inf, scores)
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
        wanted = np.minimum(truth.sum(axis=1), k)
        return float((hits[wanted > 0] / wanted[wanted > 0]).mean())

    popular = np.broadcast_to(seen.sum(axis=0), seen.shape)
    assert recall(seen @ weights) > 1.2 * recall(popular)


def test_tastes_drift_over_time(ratings: pd.DataFrame, movies: pd.DataFrame) -> None:
    genre = movies.assign(genre=movies.genres.str.split("|")).explode("genre")[["movieId", "genre"]]
    heavy = ratings[ratings.groupby("userId").userId.transform("size") >= 60]
    order = heavy.groupby("userId").cumcount() / heavy.groupby("userId").userId.transform("size")
    shuffled = np.random.default_rng(2).random(len(heavy))

    def half_gap(late: pd.Series) -> float:
        halves = heavy.assign(late=late.to_numpy()).merge(genre, on="movieId")
        share = halves.groupby(["userId", "late"]).genre.value_counts(normalize=True)
        table = share.unstack("late", fill_value=0)
        return float((table[True] - table[False]).abs().groupby("userId").sum().mean())

    assert half_gap(order >= 0.5) > 1.1 * half_gap(pd.Series(shuffled >= 0.5))


@pytest.mark.parametrize(
    ("users", "items", "ratings"),
    [(50, 10, 30), (20, 15, 300), (3, 1000, 17)],
    ids=["fewer-ratings-than-users", "every-pair", "few-users"],
)
def test_exact_count_at_the_edges(
    tmp_path: pathlib.Path, users: int, items: int, ratings: int
) -> None:
    config = SynthConfig(users=users, items=items, ratings=ratings, chunk_ratings=7)
    generate(config, tmp_path)
    written = pd.read_csv(tmp_path / "ratings.csv")
    assert len(written) == ratings
    assert not written.duplicated(["userId", "movieId"]).any()
    assert written.userId.between(1, users).all()


def test_rejects_more_ratings_than_user_movie_pairs(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match=r"users\*items"):
        generate(SynthConfig(users=3, items=4, ratings=13), tmp_path)


def test_config_is_validated_and_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        SynthConfig(users=0)
    with pytest.raises(pydantic.ValidationError):
        SynthConfig(start_year=2010, end_year=2010)
    with pytest.raises(pydantic.ValidationError):
        CONFIG.users = 5  # type: ignore[misc]
