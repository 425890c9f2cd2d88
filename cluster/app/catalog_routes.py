"""The catalogue routes: one item, and browsing by genre in an order, live counts included."""

import asyncio

from fastapi import APIRouter, HTTPException, Query

from cluster.app.catalog import BrowseOrder, CatalogItem
from cluster.app.replica import CurrentGateway
from core.live_counters import Window

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


@router.get("/items", response_model=list[CatalogItem])
async def browse(
    gateway: CurrentGateway,
    genre: str | None = None,
    sort: BrowseOrder = "popularity",
    limit: int = Query(20, ge=1, le=500),
    min_ratings: int = Query(10, ge=0),
) -> list[CatalogItem]:
    """Browse the catalog by genre, best first by rating, year, popularity (with the last 24
    hours' live events) or trending (the last hour's live events)."""
    window = LIVE_WINDOWS.get(sort)
    live = await asyncio.to_thread(gateway.store.live.counts, window) if window else None
    return gateway.catalog.browse(genre, sort, limit, min_ratings, live)
