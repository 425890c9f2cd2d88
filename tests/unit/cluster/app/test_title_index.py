"""The title index behind GET /items?q=: the same matches and grades as grading every title,
kept in step when an item is put online, and the browse order on top of the grades."""

from __future__ import annotations

import random

from cluster.app.catalog import Catalog, CatalogItem
from cluster.app.title_index import TitleIndex, title_match, title_words
from core.online_catalog import ItemEntry

TITLES = {
    1: "Matrix, The (1999)",
    2: "Matrix Reloaded, The (2003)",
    3: "Animatrix, The (2003)",
    4: "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    5: "Enter the Matrix (2003)",
    6: "New York, New York (1977)",
    7: "Toy Story 2 (1999)",
    8: "2001: A Space Odyssey (1968)",
}


def _graded_by_scan(titles: dict[int, str], query: str) -> dict[int, int]:
    """What reading every title finds: the search before the index, its reference."""
    wanted = title_words(query)
    graded = {i: title_match(wanted, title_words(t)) for i, t in titles.items()}
    return {i: grade for i, grade in graded.items() if grade is not None}


def test_the_index_finds_what_grading_every_title_finds() -> None:
    index = TitleIndex(TITLES)
    queries = ["the matrix", "MATRIX", "matr rel", "amelie", "atrix", "new york", "york new"]
    queries += ["2", "story 2", "a", "the", "", "!!", "zzz", "t m", "space 2001", "Le"]
    for query in queries:
        assert index.search(query) == _graded_by_scan(TITLES, query), query
    assert index.search("the matrix") == {1: 0, 2: 0, 5: 1}


def test_random_titles_and_queries_agree_with_the_scan() -> None:
    draw = random.Random(7)
    vocabulary = ["star", "start", "stars", "war", "wars", "the", "a", "an", "love", "lover"]
    titles = {
        i: " ".join(draw.choices(vocabulary, k=draw.randint(1, 4))) + ", The (2000)"
        for i in range(200)
    }
    index = TitleIndex(titles)
    for _ in range(100):
        words = draw.choices(vocabulary, k=draw.randint(1, 3))
        query = " ".join(w[: draw.randint(1, len(w))] for w in words)
        assert index.search(query) == _graded_by_scan(titles, query), query


def test_a_put_title_replaces_the_old_one_in_the_index() -> None:
    index = TitleIndex({1: "Old Name (1990)", 2: "Old Times (1991)", 6: TITLES[6]})
    index.put(1, "Brand New Name (2026)")
    index.put(9, "Another Film (2026)")
    index.put(6, "Manhattan (1979)")
    assert index.search("new name") == {1: 1}
    assert index.search("old") == {2: 0}
    assert index.search("anoth") == {9: 0}
    # Every word of the old title left, repeated ones included.
    assert index.search("york") == {}
    assert index.search("manh") == {6: 0}
    index.put(2, "Old Times (1991)")
    assert index.search("old times") == {2: 0}


def _item(item_id: int, popularity: float, genres: list[str]) -> CatalogItem:
    return CatalogItem(
        item_id=item_id,
        title=TITLES[item_id],
        genres=genres,
        year=2000,
        rating_count=50,
        avg_rating=item_id / 2,
        popularity=popularity,
    )


def test_the_catalog_orders_grades_first_then_the_browse_order_and_follows_puts() -> None:
    catalog = Catalog(
        {
            1: _item(1, 10.0, ["Sci-Fi"]),
            2: _item(2, 30.0, ["Sci-Fi"]),
            3: _item(3, 90.0, ["Animation"]),
            5: _item(5, 80.0, ["Action"]),
        }
    )

    def found(query: str, order: str = "popularity", genre: str | None = None) -> list[int]:
        items = catalog.browse(genre, order, 10, 0, query=query)  # type: ignore[arg-type]
        return [i.item_id for i in items]

    assert found("the matrix") == [2, 1, 5]
    assert found("matrix") == [5, 2, 1]
    assert found("matrix", order="rating") == [5, 2, 1]
    assert found("matrix", genre="Sci-Fi") == [2, 1]
    catalog.put(3, ItemEntry(title="The Matrix Resurrections (2021)", genres=["Sci-Fi"]))
    assert found("the matrix") == [3, 2, 1, 5]
    assert found("animatrix") == []
