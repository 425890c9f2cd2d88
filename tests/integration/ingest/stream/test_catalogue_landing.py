"""Catalogue entries put online against a real Redis reach the lake's items table once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.online_catalog import ItemEntry, OnlineCatalog
from core.tables import ITEMS
from ingest.lake.versions import write_items
from ingest.stream.catalogue_landing import land_catalogue
from tests.support.redis_keys import cleared

pytestmark = pytest.mark.integration


@pytest.fixture
def online(redis_url: str) -> OnlineCatalog:
    return OnlineCatalog(cleared(redis_url, "items:catalog*"))


def _items(folder) -> dict[int, dict]:
    return {row["item_id"]: row for row in pq.read_table(folder / "items.parquet").to_pylist()}


def test_pending_entries_land_keeping_the_catalogue_and_its_links(online, tmp_path) -> None:
    items, lake = tmp_path / "items", tmp_path / "events"
    ingested = [
        {"item_id": i, "title": f"t{i}", "genres": ["Drama"], "year": 1999, "imdb_id": f"tt{i}"}
        for i in (1, 2)
    ]
    write_items(pa.Table.from_pylist(ingested, schema=ITEMS), items, "movies.csv")
    online.put(2, ItemEntry(title="t2 (director's cut)", genres=["Drama", "War"], year=2001))
    assert online.put(90, ItemEntry(title="Brand new", genres=["Comedy"], year=2026)) == 2
    assert online.version() == 2 and set(online.entries()) == {2, 90}
    # A replica that read version 1 reads only what came after it.
    assert online.changed_since(1) == (2, {90: online.entries()[90]})
    assert online.changed_since(2) == (2, {})

    assert land_catalogue(online, items, lake) == 2
    landed = _items(items)
    assert set(landed) == {1, 2, 90}
    assert (landed[2]["title"], landed[2]["genres"], landed[2]["imdb_id"]) == (
        "t2 (director's cut)",
        ["Drama", "War"],
        "tt2",
    )
    assert (landed[90]["year"], landed[90]["imdb_id"]) == (2026, None)
    assert online.pending() == {} and land_catalogue(online, items, lake) == 0
    # Every replica still reads every entry put, landed or not.
    assert set(online.entries()) == {2, 90}


def test_an_entry_changed_while_the_lake_was_written_stays_pending(online) -> None:
    online.put(5, ItemEntry(title="first"))
    snapshot = online.pending()
    online.put(5, ItemEntry(title="second"))
    assert online.landed(snapshot) == 0
    assert online.pending()[5].title == "second"
    assert online.landed(online.pending()) == 1 and online.pending() == {}
