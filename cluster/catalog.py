"""The item catalog as the Gateway shows it: titles and genres by id."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pydantic import BaseModel


class CatalogItem(BaseModel):
    item_id: int
    title: str
    genres: list[str]
    year: int | None


def load_catalog(items_folder: Path) -> dict[int, CatalogItem]:
    """Every catalog item by id."""
    rows = pq.read_table(items_folder / "items.parquet").to_pylist()
    return {
        row["item_id"]: CatalogItem(
            item_id=row["item_id"],
            title=row["title"] or "",
            genres=row["genres"] or [],
            year=row["year"],
        )
        for row in rows
    }
