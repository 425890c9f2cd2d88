"""Searching the catalogue by title (GET /items?q=) and listing its genres."""

from __future__ import annotations

from cluster.app.catalog import Catalog, CatalogItem
from cluster.app.title_index import title_words
from core.online_catalog import ItemEntry


def _item(item_id: int, title: str, genres: list[str], popularity: float) -> CatalogItem:
    return CatalogItem(
        item_id=item_id,
        title=title,
        genres=genres,
        year=1999,
        rating_count=20,
        avg_rating=5.0 - item_id / 10,
        popularity=popularity,
    )


CATALOG = Catalog(
    {
        1: _item(1, "Matrix, The (1999)", ["Action", "Sci-Fi"], 50.0),
        2: _item(2, "Matrix Reloaded, The (2003)", ["Action", "Sci-Fi"], 30.0),
        3: _item(3, "Animatrix, The (2003)", ["Animation"], 90.0),
        4: _item(4, "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", ["Comedy"], 40.0),
        5: _item(5, "Enter the Matrix (2003)", ["Action"], 80.0),
        6: _item(6, "Toy Story (1995)", ["Animation", "Comedy"], 99.0),
    }
)


def _search(query: str, genre: str | None = None, order: str = "popularity") -> list[int]:
    found = CATALOG.browse(genre, order, 10, 0, query=query)  # type: ignore[arg-type]
    return [i.item_id for i in found]


def test_titles_are_compared_without_year_case_accents_or_the_trailing_article() -> None:
    assert title_words("Matrix, The (1999)") == "the matrix"
    assert title_words("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == (
        "amelie fabuleux destin d amelie poulain le"
    )


def test_the_closest_matches_come_first_then_the_browse_order() -> None:
    # "The Matrix" starts items 1 and 2 (1 is more popular), is a word run inside 5; never 3.
    assert _search("The Matrix") == [1, 2, 5]
    # "matrix" starts no title but begins a word of 1, 2 and 5: popularity orders them.
    assert _search("MATRIX") == [5, 1, 2]
    # Every word must start a word of the title, in any order.
    assert _search("reloaded matr") == [2]
    assert _search("amelie") == [4]
    assert _search("atrix") == []


def test_a_search_keeps_to_a_genre_and_takes_the_requested_order() -> None:
    assert _search("matrix", genre="Sci-Fi") == [1, 2]
    assert _search("matrix", order="rating") == [1, 2, 5]
    assert _search("toy", genre="Action") == []


def test_an_item_put_online_is_found_by_its_new_title() -> None:
    catalog = Catalog({1: _item(1, "Old Name (1990)", ["Drama"], 1.0)})
    catalog.put(1, ItemEntry(title="Brand New Name (2026)", genres=["Drama"], year=2026))
    catalog.put(9, ItemEntry(title="Another Film (2026)", genres=[], year=2026))
    assert [i.item_id for i in catalog.browse(None, "popularity", 10, 0, query="new name")] == [1]
    assert [i.item_id for i in catalog.browse(None, "popularity", 10, 0, query="old")] == []
    assert [i.item_id for i in catalog.browse(None, "popularity", 10, 0, query="anoth")] == [9]


def test_genres_are_listed_most_common_first() -> None:
    assert CATALOG.genres()[:3] == [("Action", 3), ("Animation", 2), ("Comedy", 2)]
