"""The item catalog as the Gateway shows it: titles, genres and rating statistics by id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from cluster.app.title_index import TitleIndex
from core.filesystem import read_parquet
from core.online_catalog import ItemEntry
from core.paths import StarlingPaths
from core.storage import committed, parquet_dataset

BrowseOrder = Literal["rating", "year", "popularity", "trending"]


class CatalogItem(BaseModel):
    item_id: int
    title: str
    genres: list[str]
    year: int | None
    rating_count: int = 0
    avg_rating: float = 0.0
    popularity: float = Field(
        0.0,
        description="decayed rating count as of the last features build, plus the events "
        "counted live in the last 24 hours when browsing by popularity",
    )
    trending: float = Field(
        0.0, description="events counted live in the last hour (browsing by trending)"
    )


_BROWSE_KEYS: dict[str, Callable[[CatalogItem], tuple[float, ...]]] = {
    "rating": lambda i: (-i.avg_rating, -i.rating_count, i.item_id),
    "year": lambda i: (-(i.year or 0), -i.popularity, i.item_id),
    "popularity": lambda i: (-i.popularity, i.item_id),
    "trending": lambda i: (-i.trending, -i.popularity, i.item_id),
}


class Catalog:
    """Every catalog item, with browse orders per genre precomputed."""

    def __init__(self, items: dict[int, CatalogItem]) -> None:
        self.items = items
        self._title_index = TitleIndex({i: item.title for i, item in items.items()})

    @staticmethod
    def load(paths: StarlingPaths) -> Catalog:
        rows = read_parquet(committed(paths.items) / "items.parquet").to_pylist()
        stats = {
            row["item_id"]: row
            for row in parquet_dataset(paths.item_features, exclude_invalid_files=True)
            .to_table(
                columns=["item_id", "item_rating_count", "item_avg_rating", "item_popularity"]
            )
            .to_pylist()
        }
        items = {}
        for row in rows:
            stat = stats.get(row["item_id"], {})
            items[row["item_id"]] = CatalogItem(
                item_id=row["item_id"],
                title=row["title"] or "",
                genres=row["genres"] or [],
                year=row["year"],
                rating_count=stat.get("item_rating_count") or 0,
                avg_rating=stat.get("item_avg_rating") or 0.0,
                popularity=stat.get("item_popularity") or 0.0,
            )
        return Catalog(items)

    def put(self, item_id: int, entry: ItemEntry) -> CatalogItem:
        """Add or change an item's catalogue entry (PUT /items); its statistics stay."""
        known = self.items.get(item_id)
        entry_fields = {"title": entry.title, "genres": entry.genres, "year": entry.year}
        item = CatalogItem.model_validate(
            {**(known.model_dump() if known else {"item_id": item_id}), **entry_fields}
        )
        self.items[item_id] = item
        self._title_index.put(item_id, item.title)
        return item

    def get(self, item_id: int) -> CatalogItem | None:
        return self.items.get(item_id)

    def browse(
        self,
        genre: str | None,
        order: BrowseOrder,
        limit: int,
        min_ratings: int,
        live: Mapping[int, float] | None = None,
        query: str | None = None,
    ) -> list[CatalogItem]:
        """Items of a genre (all when None), best first by `order`; with a title `query`, only
        the items whose title matches it, the closest matches first (see `title_match`), found
        through the title index rather than by reading every title.

        Ordering by rating only considers items with at least `min_ratings` ratings, so one
        five-star vote does not top the list. `live` holds the items' live event counts: the
        last 24 hours' add to popularity, the last hour's are the trending order.
        """
        matches: dict[int, int] = {}
        if query is not None:
            matches = self._title_index.search(query)
            chosen = [self.items[i] for i in matches]
        else:
            chosen = list(self.items.values())
        if genre is not None:
            chosen = [i for i in chosen if genre in i.genres]
        if order == "rating":
            chosen = [i for i in chosen if i.rating_count >= min_ratings]
        if live and order == "popularity":
            chosen = [_with(i, popularity=i.popularity + live.get(i.item_id, 0.0)) for i in chosen]
        elif live and order == "trending":
            chosen = [_with(i, trending=live.get(i.item_id, 0.0)) for i in chosen]
        by_order = _BROWSE_KEYS[order]
        return sorted(chosen, key=lambda i: (matches.get(i.item_id, 0), *by_order(i)))[:limit]

    def genres(self) -> list[tuple[str, int]]:
        """Every genre with its number of items, the most common first."""
        counts = Counter(g for i in self.items.values() for g in i.genres)
        return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))

    def popular(self) -> list[tuple[int, float]]:
        """Rated items by popularity, best first: the ranking the features job publishes to
        Redis, from the files this catalogue was loaded from."""
        rated = [i for i in self.items.values() if i.rating_count > 0]
        return [(i.item_id, i.popularity) for i in sorted(rated, key=_BROWSE_KEYS["popularity"])]

    def stand_ins(
        self, item: CatalogItem, k: int, genre: str | None, min_year: int | None
    ) -> list[CatalogItem]:
        """Popular items sharing the item's first genre (or `genre`), for an item the model has
        no vector for (too few ratings to learn one)."""
        wanted = genre or (item.genres[0] if item.genres else None)
        return [
            i
            for i in self.browse(wanted, "popularity", len(self.items), 0)
            if i.item_id != item.item_id and (min_year is None or (i.year or 0) >= min_year)
        ][:k]


def _with(item: CatalogItem, **changes: float) -> CatalogItem:
    return item.model_copy(update=changes)
