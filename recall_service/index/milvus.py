"""Item vectors in Milvus (Milvus Lite folder or server URI) with the scalar fields that
filters use (genres, year, popularity); searched by the metric the model was trained for."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import grpc
import numpy as np
from pydantic import SecretStr
from pymilvus import DataType, MilvusClient, MilvusException

from core.errors import InvalidInputError
from recall_service.index.item_attributes import (
    MAX_GENRE_LENGTH,
    MAX_GENRE_TAGS_LENGTH,
    MAX_GENRES,
    ItemAttributes,
    ItemFilter,
)
from recall_service.index.plan import IndexPlan, choose_index, is_lite_version

ID_FIELD = "item_id"
VECTOR_FIELD = "vector"
GENRES_FIELD = "genres"
GENRE_TAGS_FIELD = "genre_tags"
YEAR_FIELD = "year"
POPULARITY_FIELD = "popularity"
_UPSERT_BATCH = 5_000
# A Milvus server builds HNSW on sealed segments in the background; a million 64-d vectors take
# minutes on two cores.
INDEX_BUILD_TIMEOUT_S = 1_800.0
# Milvus refuses a larger top-k.
MAX_K = 16_384


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so that inner product is cosine."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class VectorIndex:
    """One Milvus collection of (item_id INT64 primary, vector FLOAT_VECTOR, genres
    ARRAY<VARCHAR>, genre_tags VARCHAR (the genres as "|A||B|", what filters match), year
    INT64, popularity FLOAT).

    `uri` is a Milvus Lite folder (`something.db`; one process at a time may open it) or a
    server address such as `http://host:19530`; the same calls work on both. A server with
    authorization enabled is sent `credentials` (a token, or `user:password`).
    """

    def __init__(
        self, client: MilvusClient, collection: str, uri: str | Path, plan: IndexPlan
    ) -> None:
        self.client = client
        self.collection = collection
        self.uri = str(uri)
        self.plan = plan
        # Milvus Lite as a folder or as `milvus-lite server`: they match filters differently.
        self.lite = is_lite(uri) or is_lite_version(client.get_server_version())
        # Collections built before items carried scalar fields cannot be filtered.
        self.filterable = True

    @classmethod
    def build(
        cls,
        uri: str | Path,
        collection: str,
        ids: np.ndarray,
        vectors: np.ndarray,
        attributes: ItemAttributes | None = None,
        metric: str = "IP",
        replace: bool = True,
        plan: IndexPlan | None = None,
        credentials: SecretStr | None = None,
    ) -> VectorIndex:
        """Create `collection` with `plan`'s index (by default the backend's best, see
        index_plan.choose_index) and upsert the items. An existing collection is dropped first,
        or, with `replace=False`, kept and upserted into (what replicas sharing a server do)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        client = connect(uri, credentials)
        plan = plan or choose_index(is_lite(uri) or is_lite_version(client.get_server_version()))
        index = cls(client, collection, uri, plan)
        try:
            index._create(vectors.shape[1], metric, replace)
            index.upsert(ids, vectors, attributes)
            if not index.lite:
                index._seal_and_index()
        except BaseException:
            index.close()
            raise
        return index

    @classmethod
    def open(
        cls, uri: str | Path, collection: str, credentials: SecretStr | None = None
    ) -> VectorIndex:
        """Connect to an existing collection and load it for search."""
        client = connect(uri, credentials)
        index = cls(client, collection, uri, IndexPlan(index_type="FLAT"))
        try:
            if not client.has_collection(collection):
                raise LookupError(f"no collection {collection!r} at {uri}")
            client.load_collection(collection)
            built = client.describe_index(collection, VECTOR_FIELD)
            index.plan = IndexPlan(index_type=str(built.get("index_type", "FLAT")))
            fields = client.describe_collection(collection)["fields"]
            index.filterable = any(field["name"] == GENRE_TAGS_FIELD for field in fields)
        except BaseException:
            index.close()
            raise
        return index

    def _create(self, dim: int, metric: str, replace: bool) -> None:
        client, collection = self.client, self.collection
        if client.has_collection(collection):
            if not replace:
                client.load_collection(collection)
                return
            client.drop_collection(collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field(
            GENRES_FIELD,
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=MAX_GENRES,
            max_length=MAX_GENRE_LENGTH,
        )
        schema.add_field(GENRE_TAGS_FIELD, DataType.VARCHAR, max_length=MAX_GENRE_TAGS_LENGTH)
        schema.add_field(YEAR_FIELD, DataType.INT64)
        schema.add_field(POPULARITY_FIELD, DataType.FLOAT)
        index_params = client.prepare_index_params()
        index_params.add_index(
            field_name=VECTOR_FIELD,
            index_type=self.plan.index_type,
            metric_type=metric,
            params=self.plan.build_params,
        )
        client.create_collection(collection, schema=schema)
        # sync=True would poll AllocTimestamp, which Milvus Lite lacks (a logged error and a
        # 0.5 s sleep); the collection is empty, so the index is ready at once.
        client.create_index(collection, index_params, sync=False)
        client.load_collection(collection)

    def _seal_and_index(self, timeout_s: float = INDEX_BUILD_TIMEOUT_S) -> None:
        """On a Milvus server, seal what was upserted, wait for its index, and load the sealed,
        indexed segments: until the query nodes swap them in on their own (tens of seconds
        later), they search the growing segments through Milvus's interim IVF index, which at
        100k items kept 0.68 of the true top-100 where HNSW keeps 0.90 (bench/recall.py)."""
        self.client.flush(self.collection)
        deadline = time.monotonic() + timeout_s
        while True:
            built = self.client.describe_index(self.collection, VECTOR_FIELD)
            if int(built.get("pending_index_rows", 0)) == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.collection}'s index not built in {timeout_s:.0f} s")
            time.sleep(0.5)
        self.client.release_collection(self.collection)
        self.client.load_collection(self.collection)

    def upsert(
        self, ids: np.ndarray, vectors: np.ndarray, attributes: ItemAttributes | None = None
    ) -> None:
        """Insert items, replacing the vectors and fields of ids already present.

        `attributes` must list the same ids in the same order; without it items get no
        genres, an unknown year and zero popularity.
        """
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        attributes = attributes or ItemAttributes.unknown(ids)
        if not np.array_equal(attributes.ids, ids):
            raise ValueError("attributes must describe the upserted ids in their order")
        for begin in range(0, len(ids), _UPSERT_BATCH):
            end = min(begin + _UPSERT_BATCH, len(ids))
            rows = [
                {ID_FIELD: int(ids[p]), VECTOR_FIELD: vectors[p], **fields}
                for p, fields in zip(
                    range(begin, end), attributes.rows(range(begin, end)), strict=True
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

    def search(
        self, vectors: np.ndarray, k: int, where: ItemFilter | None = None
    ) -> list[list[tuple[int, float]]]:
        """For each query row, up to k (item_id, score) pairs, best first; only items that
        pass `where` when it is given."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if where is not None and where.uses_attributes and not self.filterable:
            raise ValueError(
                f"{self.collection} at {self.uri} has no genre/year fields to filter on: "
                "retrain the recall model to rebuild its index"
            )
        limit = min(k, MAX_K)
        results = self.client.search(
            self.collection,
            data=list(queries),
            filter=where.expression(self.lite) if where is not None else "",
            limit=limit,
            anns_field=VECTOR_FIELD,
            # Asking for the id alone keeps Milvus from sending every hit's vector back.
            output_fields=[ID_FIELD],
            search_params={"params": self.plan.search_params(limit)},
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


class MilvusAuthError(InvalidInputError):
    """A Milvus server that refused the configured credentials, or asked for some."""


def connect(uri: str | Path, credentials: SecretStr | None = None) -> MilvusClient:
    """A client of the Milvus Lite folder or server at `uri`. A server is sent `credentials`;
    Milvus Lite has no authentication and is sent none. A server that refuses them fails here,
    at once, with MilvusAuthError: pymilvus only says "illegal connection params or server
    unavailable", which reads like a network fault."""
    if is_lite(uri):
        return MilvusClient(uri=str(uri))
    token = credentials.get_secret_value() if credentials is not None else ""
    try:
        return MilvusClient(uri=str(uri), token=token)
    except MilvusException as error:
        if not _unauthenticated(error):
            raise
        if credentials is None:
            raise MilvusAuthError(
                f"Milvus at {uri} asks for credentials: set STARLING_MILVUS__TOKEN, or "
                "STARLING_MILVUS__USER and STARLING_MILVUS__PASSWORD"
            ) from error
        raise MilvusAuthError(
            f"Milvus at {uri} refused the credentials of STARLING_MILVUS__TOKEN (or "
            "STARLING_MILVUS__USER and STARLING_MILVUS__PASSWORD): wrong user or password"
        ) from error


def _unauthenticated(error: BaseException) -> bool:
    """Whether gRPC's UNAUTHENTICATED answer is behind `error`, which pymilvus raises from it."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, grpc.Call) and cause.code() == grpc.StatusCode.UNAUTHENTICATED:
            return True
        cause = cause.__cause__ or cause.__context__
    return False
