"""Synthetic MovieLens-format data set (movies, ratings, links, tags) with learnable structure."""

import csv
import pathlib
import time
from collections.abc import Callable
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pydantic

from ingest.synth.model import (
    GENRES,
    STARS,
    Catalog,
    RatingBlock,
    allocate_counts,
    build_catalog,
    draw_users,
    rate_block,
    year_start,
)

_TITLE_WORDS: tuple[str, ...] = (
    "Quiet", "Harbor", "Silent", "River", "Midnight", "Garden", "Broken", "Crown", "Last",
    "Summer", "Iron", "Shadow", "Golden", "City", "Winter", "Road", "Lost", "Empire", "Wild",
    "Heart", "Distant", "Star", "Hidden", "Valley", "Burning", "Sky", "Little", "Secret",
    "Northern", "Lights", "Paper", "Moon", "Red", "Horizon", "Endless", "Night", "Glass", "House",
)  # fmt: skip
_TAG_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("explosions", "car chase", "fight scenes", "adrenaline"),
    "Adventure": ("epic journey", "treasure hunt", "exotic locations"),
    "Animation": ("beautiful animation", "pixar-like", "hand-drawn"),
    "Children": ("family friendly", "kids", "heartwarming"),
    "Comedy": ("funny", "hilarious", "witty", "dark comedy"),
    "Crime": ("heist", "mafia", "gritty"),
    "Documentary": ("informative", "true story", "eye-opening"),
    "Drama": ("emotional", "tearjerker", "character study", "slow burn"),
    "Fantasy": ("magic", "dragons", "fairy tale"),
    "Film-Noir": ("noir", "femme fatale", "black and white"),
    "Horror": ("scary", "gore", "jump scares", "creepy"),
    "Musical": ("great soundtrack", "singing", "dance"),
    "Mystery": ("twist ending", "whodunit", "puzzling"),
    "Romance": ("romantic", "love story", "chick flick"),
    "Sci-Fi": ("space", "time travel", "dystopia", "aliens"),
    "Thriller": ("suspense", "tense", "psychological"),
    "War": ("world war ii", "anti-war", "battle scenes"),
    "Western": ("cowboys", "gunfight", "frontier"),
}
_GENERIC_TAGS: tuple[str, ...] = ("classic", "overrated", "underrated", "must see", "boring")
_TAGGER_SHARE = 0.1  # few users tag at all, as in MovieLens
_TAG_RATE = 0.1  # share of a tagger's ratings that also get a tag
_HEADERS = {
    "movies.csv": "movieId,title,genres",
    "ratings.csv": "userId,movieId,rating,timestamp",
    "links.csv": "movieId,imdbId,tmdbId",
    "tags.csv": "userId,movieId,tag,timestamp",
}


class SynthConfig(pydantic.BaseModel):
    """Size, seed and time span of the synthetic data set."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    users: int = pydantic.Field(2000, ge=1)
    items: int = pydantic.Field(1500, ge=1, le=1_000_000)
    ratings: int = pydantic.Field(200_000, ge=1)
    seed: int = 42
    start_year: int = pydantic.Field(2005, ge=1970)
    end_year: int = 2020
    chunk_ratings: int = pydantic.Field(500_000, ge=1)

    @pydantic.model_validator(mode="after")
    def _years_ordered(self) -> Self:
        if self.end_year <= self.start_year:
            raise ValueError("end_year must be after start_year")
        return self


class SynthSummary(pydantic.BaseModel):
    """What a generate() run wrote and how long it took."""

    out_dir: str
    users: int
    items: int
    ratings: int
    tags: int
    seconds: float


def generate(
    config: SynthConfig,
    out_dir: pathlib.Path,
    progress: Callable[[int, int], None] | None = None,
) -> SynthSummary:
    """Write movies.csv, ratings.csv, links.csv and tags.csv into out_dir, streaming ratings.

    Output bytes depend only on the config (seed, sizes, years and chunk_ratings).
    """
    if config.ratings > config.users * config.items:
        raise ValueError(
            f"ratings={config.ratings} exceeds users*items={config.users * config.items}: "
            "each (user, movie) pair can be rated at most once"
        )
    began = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    root = _seed_word(config.seed)
    catalog = build_catalog(
        np.random.default_rng([root, 0]), config.items, config.start_year, config.end_year
    )
    _write_movies(out_dir / "movies.csv", catalog, np.random.default_rng([root, 1]))
    _write_links(out_dir / "links.csv", catalog, np.random.default_rng([root, 2]))
    counts = allocate_counts(
        np.random.default_rng([root, 3]), config.users, config.items, config.ratings
    )
    tags = _write_ratings_and_tags(out_dir, config, catalog, counts, root, progress)
    return SynthSummary(
        out_dir=str(out_dir),
        users=config.users,
        items=config.items,
        ratings=config.ratings,
        tags=tags,
        seconds=time.perf_counter() - began,
    )


def _seed_word(seed: int) -> int:
    """Map any int (negative too) to a distinct non-negative seed word."""
    return 2 * seed if seed >= 0 else -2 * seed - 1


def _chunk_bounds(counts: np.ndarray, chunk_ratings: int) -> list[tuple[int, int]]:
    """Contiguous user ranges whose rating counts sum to about chunk_ratings each."""
    before = np.cumsum(counts) - counts
    chunk_of_user = before // chunk_ratings
    starts = np.flatnonzero(np.diff(chunk_of_user, prepend=-1))
    ends = np.append(starts[1:], counts.size)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _write_ratings_and_tags(
    out_dir: pathlib.Path,
    config: SynthConfig,
    catalog: Catalog,
    counts: np.ndarray,
    root: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Stream ratings chunk by chunk (plus their tags); return the number of tags written."""
    period = (int(year_start(config.start_year)), int(year_start(config.end_year)))
    schema = pa.schema(
        [
            ("userId", pa.int32()),
            ("movieId", pa.int32()),
            ("rating", pa.dictionary(pa.int8(), pa.string())),
            ("timestamp", pa.int64()),
        ]
    )
    stars = pa.array(STARS)
    # Quoting off: every field is numeric or a fixed star literal, and MovieLens quotes nothing.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    done = tags = 0
    with (
        _start_csv(out_dir / "ratings.csv").open("ab") as ratings_file,
        _start_csv(out_dir / "tags.csv").open("a", newline="", encoding="utf-8") as tags_file,
        pacsv.CSVWriter(ratings_file, schema, write_options=options) as writer,
    ):
        tag_writer = csv.writer(tags_file, lineterminator="\n")
        for index, (first, last) in enumerate(_chunk_bounds(counts, config.chunk_ratings)):
            rng = np.random.default_rng([root, 4, index])
            users = draw_users(rng, counts[first:last], catalog, period)
            block = rate_block(rng, users, catalog)
            user_ids = block.user + first + 1
            rating = pa.DictionaryArray.from_arrays(pa.array(block.star), stars)
            columns = [user_ids, catalog.movie_ids[block.item], rating, block.timestamp]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            tag_rows = _tag_rows(rng, block, user_ids, catalog, last - first)
            tag_writer.writerows(tag_rows)
            tags += len(tag_rows)
            done += block.user.size
            if progress is not None:
                progress(done, config.ratings)
    return tags


def _start_csv(path: pathlib.Path) -> pathlib.Path:
    """Create path holding just its MovieLens header line; return it for appending rows."""
    path.write_text(_HEADERS[path.name] + "\n", encoding="utf-8")
    return path


def _tag_rows(
    rng: np.random.Generator,
    block: RatingBlock,
    user_ids: np.ndarray,
    catalog: Catalog,
    n_users: int,
) -> list[tuple[int, int, str, int]]:
    """Tags for a few ratings of the few tagging users, worded after one of the item's genres."""
    tagger = rng.random(n_users) < _TAGGER_SHARE
    picked = np.flatnonzero(tagger[block.user] & (rng.random(block.user.size) < _TAG_RATE))
    item = block.item[picked]
    genre = np.argmax(catalog.genres[item] * rng.random((picked.size, len(GENRES))), axis=1)
    has_genre = catalog.genres[item].any(axis=1)
    choice = rng.integers(0, 1 << 30, picked.size)
    # Tags come shortly after the rating, as when tagging right after rating a movie.
    stamp = block.timestamp[picked] + rng.integers(0, 600, picked.size)
    rows = []
    for k in range(picked.size):
        words = _TAG_WORDS[GENRES[genre[k]]] if has_genre[k] else _GENERIC_TAGS
        rows.append(
            (
                user_ids[picked[k]],
                catalog.movie_ids[item[k]],
                words[choice[k] % len(words)],
                stamp[k],
            )
        )
    return sorted(rows, key=lambda row: (row[0], row[3]))


def _write_movies(path: pathlib.Path, catalog: Catalog, rng: np.random.Generator) -> None:
    """movies.csv sorted by movieId; titles carry the release year as in MovieLens."""
    titles = _titles(rng, catalog.release_year)
    with _start_csv(path).open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for index in np.argsort(catalog.movie_ids):
            genres = "|".join(g for g, on in zip(GENRES, catalog.genres[index], strict=True) if on)
            writer.writerow(
                (catalog.movie_ids[index], titles[index], genres or "(no genres listed)")
            )


def _titles(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    """Titles of 1-3 words plus the year; some get MovieLens' trailing article ("Harbor, The")."""
    words = np.asarray(_TITLE_WORDS)[rng.integers(0, len(_TITLE_WORDS), (years.size, 3))]
    lengths = rng.integers(1, 4, years.size)
    article = np.where(rng.random(years.size) < 0.12, ", The", "")
    return [
        f"{' '.join(row[:n])}{the} ({year})"
        for row, n, the, year in zip(words, lengths, article, years, strict=True)
    ]


def _write_links(path: pathlib.Path, catalog: Catalog, rng: np.random.Generator) -> None:
    """links.csv with distinct 7-digit zero-padded IMDb ids and distinct TMDb ids."""
    imdb = rng.choice(9_999_999, size=catalog.size, replace=False) + 1
    tmdb = rng.choice(2_000_000, size=catalog.size, replace=False) + 1
    with _start_csv(path).open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for index in np.argsort(catalog.movie_ids):
            writer.writerow((catalog.movie_ids[index], f"{imdb[index]:07d}", tmdb[index]))
