from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.tables import ITEM_FEATURES
from recall_service.index.item_attributes import (
    UNKNOWN_YEAR,
    ItemAttributes,
    ItemFilter,
    genre_tags,
)


def test_filter_expression_names_genre_and_year_and_cannot_be_escaped() -> None:
    assert ItemFilter().empty and ItemFilter().expression() == ""
    assert ItemFilter(genre="Comedy").expression() == 'genre_tags like "%|Comedy|%"'
    both = ItemFilter(genre="Sci-Fi", min_year=2000).expression()
    assert both == 'genre_tags like "%|Sci-Fi|%" and year >= 2000'
    hostile = ItemFilter(genre='x" or year >= 0 or "%').expression()
    assert hostile.count('"') == 2 and "%|x~22;~20;or" in hostile
    unseen = ItemFilter(min_year=2000, exclude=frozenset({30, 4})).excluding([7])
    assert not unseen.empty and ItemFilter(exclude=frozenset({1})).uses_attributes is False
    assert unseen.expression() == "year >= 2000 and item_id not in [4, 7, 30]"
    assert genre_tags(["(no genres listed)", "Film-Noir"]) == (
        "|~28;no~20;genres~20;listed~29;||Film-Noir|"
    )


def test_a_milvus_servers_expression_matches_genres_in_the_array_as_a_quoted_literal() -> None:
    server = ItemFilter(genre="Sci-Fi", min_year=2000).expression(lite=False)
    assert server == 'array_contains(genres, "Sci-Fi") and year >= 2000'
    hostile = ItemFilter(genre='x" or year >= 0 or "').expression(lite=False)
    assert hostile == 'array_contains(genres, "x\\" or year >= 0 or \\"")'


def test_attributes_follow_the_ids_order_and_unknown_items_match_no_filter(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    features = pa.table(
        {
            "item_id": [30, 10],
            "release_year": [1995, None],
            "item_genres": [["Comedy", "Drama"], ["Horror"]],
            "item_rating_count": [5, 1],
            "item_avg_rating": [4.0, 2.0],
            "item_rating_stddev": [0.5, 0.0],
            "item_popularity": [3.0, 1.0],
        },
        schema=ITEM_FEATURES,
    )
    pq.write_table(features, folder / "part-0.parquet")

    attributes = ItemAttributes.from_item_features(folder, np.array([10, 20, 30]))

    assert attributes.genres == [["Horror"], [], ["Comedy", "Drama"]]
    assert attributes.years.tolist() == [UNKNOWN_YEAR, UNKNOWN_YEAR, 1995]
    assert attributes.popularity.tolist() == [1.0, 0.0, 3.0]
    assert attributes.mask(ItemFilter(genre="Comedy")).tolist() == [False, False, True]
    assert attributes.mask(ItemFilter(min_year=1990)).tolist() == [False, False, True]
    assert attributes.mask(ItemFilter(genre="Horror", min_year=1990)).tolist() == [False] * 3
    assert attributes.mask(ItemFilter(exclude=frozenset({10, 30}))).tolist() == [False, True, False]

    attributes.save(tmp_path / "attributes.parquet")
    again = ItemAttributes.load(tmp_path / "attributes.parquet")
    assert again.ids.tolist() == [10, 20, 30] and again.genres == attributes.genres
    assert ItemAttributes.from_item_features(tmp_path / "missing", np.array([1])).genres == [[]]
