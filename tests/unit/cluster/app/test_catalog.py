from __future__ import annotations

from cluster.app.catalog import Catalog, CatalogItem
from cluster.app.catalog_sync import CatalogSync
from core.online_catalog import ItemEntry


def _item(item_id: int, genres: list[str], year: int, count: int, avg: float, pop: float):
    return CatalogItem(
        item_id=item_id,
        title=f"t{item_id}",
        genres=genres,
        year=year,
        rating_count=count,
        avg_rating=avg,
        popularity=pop,
    )


CATALOG = Catalog(
    {
        1: _item(1, ["Comedy"], 1990, 50, 4.0, 9.0),
        2: _item(2, ["Comedy", "Drama"], 2010, 2, 5.0, 1.0),
        3: _item(3, ["Drama"], 2000, 80, 3.5, 20.0),
        4: _item(4, ["Comedy"], 2005, 30, 4.5, 3.0),
    }
)


def test_rating_order_ignores_items_with_too_few_votes() -> None:
    assert [i.item_id for i in CATALOG.browse("Comedy", "rating", 10, min_ratings=10)] == [4, 1]


def test_year_and_popularity_orders_and_limit() -> None:
    assert [i.item_id for i in CATALOG.browse("Comedy", "year", 10, 0)] == [2, 4, 1]
    assert [i.item_id for i in CATALOG.browse(None, "popularity", 2, 0)] == [3, 1]


def test_live_counts_lift_popularity_and_make_the_trending_order() -> None:
    # Item 4 got 20 events in the last day: above item 3's published 20.0 by popularity.
    lifted = CATALOG.browse(None, "popularity", 2, 0, live={4: 20.0})
    assert [(i.item_id, i.popularity) for i in lifted] == [(4, 23.0), (3, 20.0)]
    trending = CATALOG.browse("Comedy", "trending", 3, 0, live={2: 5.0, 3: 9.0})
    assert [(i.item_id, i.trending) for i in trending] == [(2, 5.0), (1, 0.0), (4, 0.0)]
    # Without live counts the order falls back to popularity; the catalogue is left unchanged.
    assert [i.item_id for i in CATALOG.browse(None, "trending", 2, 0)] == [3, 1]
    assert CATALOG.items[4].popularity == 3.0


def test_stand_ins_are_popular_items_of_the_first_genre_without_the_item_itself() -> None:
    comedy = CATALOG.get(4)
    assert comedy is not None
    assert [i.item_id for i in CATALOG.stand_ins(comedy, 10, None, None)] == [1, 2]
    assert [i.item_id for i in CATALOG.stand_ins(comedy, 1, None, None)] == [1]
    assert [i.item_id for i in CATALOG.stand_ins(comedy, 10, "Drama", None)] == [3, 2]
    assert [i.item_id for i in CATALOG.stand_ins(comedy, 10, None, 2000)] == [2]


def test_an_entry_put_online_changes_the_item_and_keeps_its_statistics() -> None:
    catalog = Catalog({1: _item(1, ["Comedy"], 1990, 50, 4.0, 9.0)})
    catalog.put(1, ItemEntry(title="New cut", genres=["Drama"], year=1991))
    catalog.put(77, ItemEntry(title="Brand new", genres=["Drama"], year=2026))
    changed, new = catalog.items[1], catalog.items[77]
    assert (changed.title, changed.genres, changed.rating_count, changed.popularity) == (
        "New cut",
        ["Drama"],
        50,
        9.0,
    )
    assert (new.title, new.year, new.rating_count) == ("Brand new", 2026, 0)
    assert [i.item_id for i in catalog.browse("Drama", "year", 5, 0)] == [77, 1]


class FakeOnline:
    """Puts in memory, each with its version; counts the reads of changed entries."""

    def __init__(self) -> None:
        self.puts: list[tuple[int, int, ItemEntry]] = []
        self.read: list[int] = []

    def put(self, item_id: int, entry: ItemEntry) -> None:
        self.puts.append((len(self.puts) + 1, item_id, entry))

    def version(self) -> int:
        return len(self.puts)

    def changed_since(self, version: int) -> tuple[int, dict[int, ItemEntry]]:
        changed = {item: entry for v, item, entry in self.puts if v > version}
        self.read.extend(changed)
        return len(self.puts), changed


def test_a_replica_sees_entries_put_on_another_within_its_check_interval() -> None:
    now = [0.0]
    online = FakeOnline()
    sync = CatalogSync(Catalog({}), online, every_s=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert sync.current().items == {}
    online.put(5, ItemEntry(title="Elsewhere"))
    now[0] += 0.5
    assert 5 not in sync.current().items
    now[0] += 0.5
    assert sync.current().items[5].title == "Elsewhere"
    # Later, only what changed since is read.
    online.put(6, ItemEntry(title="Later"))
    now[0] += 5
    assert sync.current().items[6].title == "Later"
    now[0] += 5
    sync.current()
    assert online.read == [5, 6]
