"""The catalogue routes: one item, putting one online, and browsing by genre in an order, live
counts included."""

import asyncio

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from cluster.app.auth import WriteScope
from cluster.app.catalog import BrowseOrder, CatalogItem
from cluster.app.replica import CurrentGateway
from core.api import MAX_ID
from core.live_counters import Window
from core.online_catalog import ItemEntry

router = APIRouter(tags=["catalogue"])

# The live counts each browse order reads.
LIVE_WINDOWS: dict[str, Window] = {"popularity": "24h", "trending": "1h"}


@router.get("/items/{item_id}", response_model=CatalogItem)
async def item(item_id: int, gateway: CurrentGateway) -> CatalogItem:
    """One catalog item with its rating statistics; 404 when unknown."""
    found = gateway.catalog.get(item_id)
    if found is None:
        raise HTTPException(404, f"no item {item_id}")
    return found


@router.put("/items/{item_id}", response_model=CatalogItem)
async def put_item(
    entry: ItemEntry,
    _scope: WriteScope,
    gateway: CurrentGateway,
    item_id: int = Path(ge=0, le=MAX_ID),
) -> CatalogItem:
    """Add or change a catalogue entry (needs a write API key). Every replica shows it and
    accepts events for it within a second; the EventLander writes it into the lake's items
    table, which the next features build and training read."""
    await asyncio.to_thread(gateway.online_catalog.put, item_id, entry)
    return gateway.catalog.put(item_id, entry)


class GenreCount(BaseModel):
    genre: str
    items: int


@router.get("/items", response_model=list[CatalogItem])
async def browse(
    gateway: CurrentGateway,
    genre: str | None = None,
    sort: BrowseOrder = "popularity",
    limit: int = Query(20, ge=1, le=500),
    min_ratings: int = Query(10, ge=0),
    q: str | None = Query(
        None,
        min_length=1,
        max_length=200,
        description="title search: items whose title holds these words (word starts, any "
        "case, no accents, 'The Matrix' finds 'Matrix, The'), closest matches first",
    ),
) -> list[CatalogItem]:
    """Browse the catalog by genre, best first by rating, year, popularity (with the last 24
    hours' live events) or trending (the last hour's live events); or search it by title."""
    window = LIVE_WINDOWS.get(sort)
    live = await asyncio.to_thread(gateway.store.live.counts, window) if window else None
    return gateway.catalog.browse(genre, sort, limit, min_ratings, live, query=q)


@router.get("/genres", response_model=list[GenreCount])
async def genres(gateway: CurrentGateway) -> list[GenreCount]:
    """Every genre of the catalogue with its number of items, the most common first."""
    return [GenreCount(genre=g, items=n) for g, n in gateway.catalog.genres()]
