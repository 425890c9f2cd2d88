"""Item vectors in Milvus (Milvus Lite folder or server URI), searched by inner product."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient

ID_FIELD = "item_id"
VECTOR_FIELD = "vector"
_UPSERT_BATCH = 5_000
# Milvus refuses a larger top-k.
MAX_K = 16_384


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so that inner product is cosine."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class VectorIndex:
    """One Milvus collection of (item_id INT64 primary, vector FLOAT_VECTOR).

    `uri` is a Milvus Lite folder (`something.db`; one process at a time may open it) or a
    server address such as `http://host:19530`.
    """

    def __init__(self, client: MilvusClient, collection: str, uri: str | Path) -> None:
        self.client = client
        self.collection = collection
        self.uri = str(uri)

    @classmethod
    def build(
        cls,
        uri: str | Path,
        collection: str,
        ids: np.ndarray,
        vectors: np.ndarray,
        metric: str = "IP",
    ) -> VectorIndex:
        """Create `collection` from scratch (dropping an older one) with a FLAT index."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        index = cls(MilvusClient(uri=str(uri)), collection, uri)
        try:
            index._create(vectors.shape[1], metric)
            index.upsert(ids, vectors)
        except BaseException:
            index.close()
            raise
        return index

    @classmethod
    def open(cls, uri: str | Path, collection: str) -> VectorIndex:
        """Connect to an existing collection and load it for search."""
        index = cls(MilvusClient(uri=str(uri)), collection, uri)
        try:
            if not index.client.has_collection(collection):
                raise LookupError(f"no collection {collection!r} at {uri}")
            index.client.load_collection(collection)
        except BaseException:
            index.close()
            raise
        return index

    def _create(self, dim: int, metric: str) -> None:
        client, collection = self.client, self.collection
        if client.has_collection(collection):
            client.drop_collection(collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        index_params = client.prepare_index_params()
        index_params.add_index(field_name=VECTOR_FIELD, index_type="FLAT", metric_type=metric)
        client.create_collection(collection, schema=schema)
        # sync=True would poll AllocTimestamp, which Milvus Lite lacks (a logged error and a
        # 0.5 s sleep); the collection is empty, so the index is ready at once.
        client.create_index(collection, index_params, sync=False)
        client.load_collection(collection)

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert items, replacing the vectors of ids already present."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        for begin in range(0, len(ids), _UPSERT_BATCH):
            rows = [
                {ID_FIELD: int(item), VECTOR_FIELD: vector}
                for item, vector in zip(
                    ids[begin : begin + _UPSERT_BATCH],
                    vectors[begin : begin + _UPSERT_BATCH],
                    strict=True,
                )
            ]
            self.client.upsert(self.collection, rows)

    def count(self) -> int:
        return int(self.client.get_collection_stats(self.collection)["row_count"])

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those `ids` that the collection holds."""
        if not ids:
            return {}
        rows = self.client.get(
            self.collection, ids=[int(i) for i in ids], output_fields=[VECTOR_FIELD]
        )
        return {int(row[ID_FIELD]): np.asarray(row[VECTOR_FIELD], dtype=np.float32) for row in rows}

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query row, up to k (item_id, score) pairs, best first."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        results = self.client.search(
            self.collection,
            data=list(queries),
            limit=min(k, MAX_K),
            anns_field=VECTOR_FIELD,
            # Asking for the id alone keeps Milvus from sending every hit's vector back.
            output_fields=[ID_FIELD],
        )
        return [[(int(hit[ID_FIELD]), float(hit["distance"])) for hit in hits] for hits in results]

    def close(self) -> None:
        """Disconnect; for Milvus Lite also stop its in-process server, which flushes the data
        and frees the folder for another process (client.close() alone keeps both)."""
        self.client.close()
        if is_lite(self.uri):
            # Imported here: a server URI needs no milvus_lite.
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)


def is_lite(uri: str | Path) -> bool:
    """Whether `uri` names a Milvus Lite folder (pymilvus recognises them by `.db`)."""
    return str(uri).endswith(".db")
