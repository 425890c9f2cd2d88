"""Latent model behind the synthetic MovieLens data: item catalog, user tastes and rating draws."""

import dataclasses
from statistics import NormalDist

import numpy as np

# Genre counts of ml-latest-small, so Drama and Comedy dominate the catalog as in MovieLens.
_GENRE_COUNTS = {
    "Action": 1828, "Adventure": 1263, "Animation": 611, "Children": 664, "Comedy": 3756,
    "Crime": 1199, "Documentary": 440, "Drama": 4361, "Fantasy": 779, "Film-Noir": 87,
    "Horror": 978, "Musical": 334, "Mystery": 573, "Romance": 1596, "Sci-Fi": 980,
    "Thriller": 1894, "War": 382, "Western": 167,
}  # fmt: skip
GENRES: tuple[str, ...] = tuple(_GENRE_COUNTS)
STARS: tuple[str, ...] = tuple(f"{s / 2:.1f}" for s in range(1, 11))
# Star shares of ml-latest-small for 0.5 .. 5.0; a standard-normal score cut at these quantiles
# reproduces them (mean ~3.5, mode 4.0, whole stars above their half-star neighbours).
_STAR_SHARES = (0.014, 0.028, 0.018, 0.075, 0.055, 0.199, 0.130, 0.266, 0.085, 0.131)
_STAR_CUTS = np.array(
    [NormalDist().inv_cdf(p) for p in np.cumsum(_STAR_SHARES)[:-1] / sum(_STAR_SHARES)]
)

_LATENT_DIM = 16
_TASTE_SCALE = 1.5  # genre preferences weigh about as much as the latent factors in affinity
_TASTE_KEEP = 0.8  # correlation between a user's early and late genre preferences
# Choice weight = popularity x exp(affinity / temperature). These values make a simple
# collaborative model (EASE) beat popularity ~1.5x in recall on ml-latest-small-sized data.
_TEMPERATURE = 0.6
# Weights follow rank^-1.5 because rating each item at most once per user flattens them:
# rating counts then fall off like rank^-0.7 .. rank^-0.9, close to ml-latest-small's.
_ZIPF_EXPONENT = 1.5
# Users belong to taste communities and items to niches of ~50 similar items, which gives
# the co-occurrence structure collaborative models learn from.
_COMMUNITIES = 24
_COMMUNITY_WEIGHT = 0.8
_NICHE_SIZE = 50
_NICHE_WEIGHT = 0.8
_NICHE_GENRE_PULL = 1.5  # items of a niche share genres, so genres hint at latent taste
_CELLS_PER_PASS = 1 << 22  # user x item scores held at once: bounds memory to ~32 MB
_NO_GENRE_SHARE = 0.01
_OLD_ITEM_SHARE = 0.6  # items released before the rating period (the back catalog)
# Rating score = user bias + item bias + within-user affinity + noise, in these weights.
_RATING_WEIGHTS = np.array([0.5, 0.45, 0.85, 0.45])
_SECONDS_PER_DAY = 86_400


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Item parameters and the taste communities users come from.

    Items are indexed in release order, so the items released before a date form a prefix.
    """

    movie_ids: np.ndarray
    release_year: np.ndarray
    release_ts: np.ndarray
    genres: np.ndarray
    genre_shares: np.ndarray
    latent: np.ndarray
    bias: np.ndarray
    log_popularity: np.ndarray
    community_latent: np.ndarray
    community_taste: np.ndarray

    @property
    def size(self) -> int:
        """Number of items."""
        return int(self.movie_ids.size)


@dataclasses.dataclass(frozen=True)
class Users:
    """Tastes and activity of one contiguous block of users.

    A user rates ``counts`` items within [start, end); ``reach`` is how many items (a prefix in
    release order) were released before ``end``.
    """

    counts: np.ndarray
    start: np.ndarray
    end: np.ndarray
    reach: np.ndarray
    latent: np.ndarray
    taste_early: np.ndarray
    taste_late: np.ndarray
    bias: np.ndarray


@dataclasses.dataclass(frozen=True)
class RatingBlock:
    """Ratings of a block of users, sorted by user then timestamp."""

    user: np.ndarray
    item: np.ndarray
    star: np.ndarray
    timestamp: np.ndarray


def year_start(years: int | np.ndarray) -> np.ndarray:
    """Unix seconds of January 1st (UTC) of each year."""
    return (
        (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    )


def build_catalog(rng: np.random.Generator, items: int, start_year: int, end_year: int) -> Catalog:
    """Draw items: release years, genres, latent factors, biases and Zipf popularity."""
    back_year = start_year - 1 - np.floor(rng.exponential(14.0, items)).astype(np.int64)
    new_year = rng.integers(start_year, end_year, items)
    years = np.sort(
        np.where(rng.random(items) < _OLD_ITEM_SHARE, np.maximum(back_year, 1902), new_year)
    )
    popularity = (rng.permutation(items) + 1.0) ** -_ZIPF_EXPONENT
    # Sorted ids with occasional jumps, like MovieLens ids of movies added over the years.
    gaps = 1 + (rng.random(items) < 0.1) * rng.geometric(0.02, items)
    gaps[0] = 1
    niche = rng.integers(0, max(1, items // _NICHE_SIZE), items)
    niche_latent = rng.normal(size=(niche.max() + 1, _LATENT_DIM))
    niche_genre = rng.normal(size=(niche.max() + 1, len(GENRES))) * _NICHE_GENRE_PULL
    genres = _draw_genres(rng, niche_genre[niche])
    latent = _mix(niche_latent[niche], rng.normal(size=(items, _LATENT_DIM)), _NICHE_WEIGHT)
    return Catalog(
        movie_ids=rng.permutation(np.cumsum(gaps)),
        release_year=years,
        release_ts=year_start(years),
        genres=genres,
        genre_shares=(genres / np.maximum(genres.sum(axis=1, keepdims=True), 1)).astype(np.float32),
        latent=(latent / np.sqrt(_LATENT_DIM)).astype(np.float32),
        bias=rng.normal(size=items),
        log_popularity=np.log(popularity),
        community_latent=rng.normal(size=(_COMMUNITIES, _LATENT_DIM)),
        community_taste=rng.normal(size=(_COMMUNITIES, len(GENRES))),
    )


def _draw_genres(rng: np.random.Generator, pull: np.ndarray) -> np.ndarray:
    """Genre membership (items x genres), ~2.3 genres per item, a few items with none."""
    items = pull.shape[0]
    wanted = np.minimum(1 + rng.poisson(1.27, items), 6)
    wanted[rng.random(items) < _NO_GENRE_SHARE] = 0
    keys = np.log(list(_GENRE_COUNTS.values())) + pull + rng.gumbel(size=(items, len(GENRES)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return rank < wanted[:, None]


def allocate_counts(rng: np.random.Generator, users: int, items: int, ratings: int) -> np.ndarray:
    """Long-tailed ratings per user summing exactly to ``ratings``, none above ``items``.

    Every user gets at least 5 when ratings allow it; requires ratings <= users * items.
    """
    floor = min(5, ratings // users, items)
    weights = rng.lognormal(0.0, 1.2, users)
    counts = np.full(users, floor, dtype=np.int64)
    remaining = ratings - floor * users
    while remaining > 0:
        free = weights * (counts < items)
        share = remaining * free / free.sum()
        extra = np.floor(share).astype(np.int64)
        leftover = remaining - int(extra.sum())
        extra[np.argsort(extra - share, kind="stable")[:leftover]] += 1
        counts += extra
        remaining = int(np.maximum(counts - items, 0).sum())
        np.minimum(counts, items, out=counts)
    return counts


def draw_users(
    rng: np.random.Generator, counts: np.ndarray, catalog: Catalog, period: tuple[int, int]
) -> Users:
    """Draw tastes and an active interval (inside ``period``) for a block of users."""
    n = counts.size
    span = period[1] - period[0]
    days = rng.lognormal(np.log(60.0), 1.5, n) * np.sqrt(np.maximum(counts, 1) / 20)
    duration = np.clip(days * _SECONDS_PER_DAY, 3600, span).astype(np.int64)
    start = period[0] + (rng.random(n) * (span - duration)).astype(np.int64)
    end = start + duration
    # Stretch the interval of users who would otherwise see fewer released items than they rate.
    needed = catalog.release_ts[np.maximum(counts, 1) - 1] + 1
    end = np.maximum(end, needed)
    community = rng.integers(0, _COMMUNITIES, n)
    latent = _mix(
        catalog.community_latent[community], rng.normal(size=(n, _LATENT_DIM)), _COMMUNITY_WEIGHT
    )
    early = _mix(
        catalog.community_taste[community], rng.normal(size=(n, len(GENRES))), _COMMUNITY_WEIGHT
    )
    drift = rng.normal(size=(n, len(GENRES)))
    late = _TASTE_KEEP * early + np.sqrt(1 - _TASTE_KEEP**2) * drift
    return Users(
        counts=counts,
        start=start,
        end=end,
        reach=np.searchsorted(catalog.release_ts, end, side="left"),
        latent=latent.astype(np.float32),
        taste_early=(early * _TASTE_SCALE).astype(np.float32),
        taste_late=(late * _TASTE_SCALE).astype(np.float32),
        bias=rng.normal(size=n),
    )


def _mix(shared: np.ndarray, own: np.ndarray, weight: float) -> np.ndarray:
    """Blend a group's (community's, niche's) vector with a member's own, keeping unit variance."""
    return weight * shared + np.sqrt(1 - weight**2) * own


def rate_block(rng: np.random.Generator, users: Users, catalog: Catalog) -> RatingBlock:
    """Pick which items each user rates, when, and with how many stars."""
    owner, item = _choose_items(rng, users, catalog)
    latent = _rowdot(users.latent, catalog.latent, owner, item)
    early = _rowdot(users.taste_early, catalog.genre_shares, owner, item)
    late = _rowdot(users.taste_late, catalog.genre_shares, owner, item)
    # Items matching the later taste tend to be rated later: that is the taste drift.
    pull = np.exp(-np.clip(late - early, -3, 3))
    low = np.maximum(users.start[owner], catalog.release_ts[item])
    high = users.end[owner]
    timestamp = low + (rng.random(owner.size) ** pull * (high - low)).astype(np.int64)
    phase = (timestamp - users.start[owner]) / (users.end - users.start)[owner]
    affinity = latent + (1 - phase) * early + phase * late
    parts = np.stack(
        [
            users.bias[owner],
            catalog.bias[item],
            _within_user_z(owner, affinity, users.counts.size),
            rng.normal(size=owner.size),
        ]
    )
    score = _RATING_WEIGHTS @ parts / np.linalg.norm(_RATING_WEIGHTS)
    order = np.lexsort((timestamp, owner))
    return RatingBlock(
        user=owner[order],
        item=item[order],
        star=np.searchsorted(_STAR_CUTS, score[order]).astype(np.int8),
        timestamp=timestamp[order],
    )


def _within_user_z(owner: np.ndarray, values: np.ndarray, n_users: int) -> np.ndarray:
    """Standardise values within each user, so affinity moves ratings around the user's level."""
    count = np.maximum(np.bincount(owner, minlength=n_users), 1)
    mean = np.bincount(owner, values, minlength=n_users) / count
    centred = values - mean[owner]
    var = np.bincount(owner, centred**2, minlength=n_users) / count
    return centred / np.sqrt(var + 0.05)[owner]


def _choose_items(
    rng: np.random.Generator, users: Users, catalog: Catalog
) -> tuple[np.ndarray, np.ndarray]:
    """Sample distinct items per user with probability ~ popularity x exp(affinity/temperature).

    Gumbel-top-k: the k largest of (log weight + Gumbel noise) are an exact weighted sample
    without replacement. Users go a few rows at a time so the users x items scores stay small.
    """
    taste = np.hstack([users.latent, (users.taste_early + users.taste_late) / 2])
    profile = np.hstack([catalog.latent, catalog.genre_shares]).T / _TEMPERATURE
    log_popularity = catalog.log_popularity.astype(np.float32)
    step = max(1, _CELLS_PER_PASS // catalog.size)
    owner = np.repeat(np.arange(users.counts.size), users.counts)
    item = np.empty(owner.size, dtype=np.int64)
    offset = np.cumsum(users.counts) - users.counts
    for lo in range(0, users.counts.size, step):
        score = taste[lo : lo + step] @ profile + log_popularity
        score -= _neg_gumbel(rng, score.shape)
        for user in lo + np.flatnonzero(users.counts[lo : lo + step]):
            k, reach, at = users.counts[user], users.reach[user], offset[user]
            # Only the released prefix (release order) is eligible for this user.
            item[at : at + k] = np.argpartition(score[user - lo, :reach], reach - k)[reach - k :]
    return owner, item


def _neg_gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Minus standard Gumbel noise in float32, i.e. log(-log(U)), computed in place for speed."""
    noise = rng.random(shape, dtype=np.float32)
    with np.errstate(divide="ignore"):
        np.log(noise, out=noise)
        np.negative(noise, out=noise)
        np.log(noise, out=noise)
    return noise


def _rowdot(
    left: np.ndarray, right: np.ndarray, left_rows: np.ndarray, right_rows: np.ndarray
) -> np.ndarray:
    """Row-wise dot products of left[left_rows] and right[right_rows], gathered in blocks."""
    out = np.empty(left_rows.size, dtype=np.float32)
    block = 1 << 16
    for lo in range(0, left_rows.size, block):
        hi = lo + block
        out[lo:hi] = np.einsum("ij,ij->i", left[left_rows[lo:hi]], right[right_rows[lo:hi]])
    return out
