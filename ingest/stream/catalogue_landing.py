"""Lands the catalogue entries put online (`core.online_catalog`) in the lake's items table."""

from __future__ import annotations

import pyarrow as pa

from core.filesystem import StoragePath, read_parquet
from core.online_catalog import ItemEntry, OnlineCatalog
from core.storage import committed, read_manifest
from core.tables import ITEMS
from core.writer_lock import writer_lock
from ingest.lake.versions import write_items

API_SOURCE = "PUT /items"
LINKS = ["item_id", "imdb_id", "tmdb_id"]


def catalogue_rows(entries: dict[int, ItemEntry], links: dict[int, dict]) -> pa.Table:
    """ITEMS rows of the entries; an item the catalogue had keeps its IMDb and TMDB links."""
    return pa.Table.from_pylist(
        [
            {
                "item_id": item_id,
                "title": entry.title,
                "genres": entry.genres,
                "year": entry.year,
                "imdb_id": links.get(item_id, {}).get("imdb_id"),
                "tmdb_id": links.get(item_id, {}).get("tmdb_id"),
            }
            for item_id, entry in sorted(entries.items())
        ],
        schema=ITEMS,
    )


def land_catalogue(online: OnlineCatalog, items: StoragePath, lake: StoragePath) -> int:
    """Write the pending entries into the items table (one new version, every other item
    kept) and mark them landed; returns how many. Holds the events lake's writer lock, as
    `starling ingest`, the other writer of the items table, does."""
    pending = online.pending()
    if not pending:
        return 0
    with writer_lock(lake):
        links: dict[int, dict] = {}
        if read_manifest(items) is not None:
            current = read_parquet(committed(items) / "items.parquet", columns=LINKS)
            rows = current.to_pylist()
            links = {row["item_id"]: row for row in rows if row["item_id"] in pending}
        write_items(catalogue_rows(pending, links), items, API_SOURCE)
    online.landed(pending)
    return len(pending)
