from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recall_service.serving.genre_popularity import GenrePopularity, genre_route

GENRES = GenrePopularity.build(
    [1, 2, 3, 4, 5],
    [["Drama"], ["Drama", "War"], ["War"], ["Comedy"], ["Drama"]],
    [10.0, 6.0, 8.0, 20.0, 0.0],
)


def test_each_genre_lists_its_items_most_popular_first_without_unpopular_ones() -> None:
    assert GENRES.top("Drama", 5) == [(1, 10.0), (2, 6.0)]
    assert GENRES.top("War", 1) == [(3, 8.0)]
    assert GENRES.top("Horror", 3) == []


def test_items_in_several_favourite_genres_outrank_equally_popular_single_genre_items() -> None:
    # Weights: Drama 1, War 1/2. Scores: 1 -> 10, 2 -> 6 x 1.5 = 9, 3 -> 8 x 0.5 = 4.
    hits = genre_route(GENRES, ["Drama", "War"], k=3)

    assert [item for item, _ in hits] == [1, 2, 3]
    assert all(-2.0 < score < -1.0 for _, score in hits)
    assert [item for item, _ in genre_route(GENRES, ["Drama", "War"], 3, exclude={1})] == [2, 3]
    assert genre_route(GENRES, [], 3) == []


def test_genre_popularity_reads_item_features_and_is_empty_without_them(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    table = pa.table(
        {
            "item_id": pa.array([1, 2], pa.int64()),
            "item_genres": pa.array([["Drama"], ["Drama"]], pa.list_(pa.string())),
            "item_popularity": pa.array([1.5, 0.0], pa.float32()),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")

    assert GenrePopularity.from_item_features(folder).top("Drama", 5) == [(1, 1.5)]
    assert GenrePopularity.from_item_features(tmp_path / "missing").by_genre == {}
