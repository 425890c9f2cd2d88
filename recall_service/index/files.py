"""File and collection names inside a registered recall model version."""

from __future__ import annotations

VECTORS = "vectors.npy"
ITEM_IDS = "item_ids.npy"
ITEM_ATTRIBUTES = "item_attributes.parquet"
MILVUS_DB = "milvus.db"
INDEX_SPEC = "index.json"
COLLECTION = "items"


def server_collection(name: str, version: str) -> str:
    """The collection of one model version on a shared Milvus server."""
    return f"{COLLECTION}_{name}_{version}"
