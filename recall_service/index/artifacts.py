"""The files a recall model version keeps for its vector index, and the collections built
from them: the Milvus Lite folder inside the version, or a collection on a Milvus server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, SecretStr

from core.paths import StarlingPaths
from recall_service.index.files import (
    COLLECTION,
    INDEX_SPEC,
    ITEM_ATTRIBUTES,
    ITEM_IDS,
    MILVUS_DB,
    VECTORS,
)
from recall_service.index.item_attributes import ItemAttributes
from recall_service.index.milvus import VectorIndex


class IndexSpec(BaseModel):
    """How the version's vectors are compared and indexed (kept as index.json)."""

    metric: str
    index_type: str
    items: int
    dim: int


def write_index_artifacts(
    folder: Path, paths: StarlingPaths, ids: np.ndarray, vectors: np.ndarray, metric: str
) -> IndexSpec:
    """Save vectors, ids and item attributes (from the item features) into a version folder
    and build its Milvus Lite index. `metric` is the similarity the model was trained for:
    "IP" for dot products (cosine when the vectors are unit length), "L2" for distances."""
    np.save(folder / VECTORS, vectors)
    np.save(folder / ITEM_IDS, ids)
    attributes = ItemAttributes.from_item_features(paths.item_features, ids)
    attributes.save(folder / ITEM_ATTRIBUTES)
    index = VectorIndex.build(folder / MILVUS_DB, COLLECTION, ids, vectors, attributes, metric)
    spec = IndexSpec(
        metric=metric, index_type=index.plan.index_type, items=len(ids), dim=vectors.shape[1]
    )
    index.close()
    (folder / INDEX_SPEC).write_text(spec.model_dump_json(indent=2))
    return spec


def open_server_collection(
    uri: str, collection: str, version_dir: Path, credentials: SecretStr | None = None
) -> VectorIndex:
    """Open the version's collection on a Milvus server, first building it from the version's
    files when it is missing or incomplete. Replicas starting together may all build it: each
    upserts the same rows, so the result is the same."""
    ids = np.load(version_dir / ITEM_IDS)
    try:
        index = VectorIndex.open(uri, collection, credentials)
    except LookupError:
        index = None
    if index is not None and index.count() >= len(ids):
        return index
    if index is not None:
        index.close()
    spec = IndexSpec.model_validate_json((version_dir / INDEX_SPEC).read_text())
    attributes_file = version_dir / ITEM_ATTRIBUTES
    attributes = ItemAttributes.load(attributes_file) if attributes_file.is_file() else None
    return VectorIndex.build(
        uri,
        collection,
        ids,
        np.load(version_dir / VECTORS),
        attributes,
        spec.metric,
        replace=False,
        credentials=credentials,
    )
