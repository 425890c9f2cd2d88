"""Publishing a trained recall model: item vectors, their Milvus index and the manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from recall_service.index.artifacts import write_index_artifacts

# Every recall model's item vectors are L2-normalised and searched by inner product, which is
# their cosine: the similarity skip-gram's and the two-tower's vectors are compared by.
METRIC = "cosine"
INDEX_METRIC = "IP"


def publish_item_vectors(
    paths: StarlingPaths,
    name: str,
    item_ids: np.ndarray,
    vectors: np.ndarray,
    metrics: dict[str, float],
    data_snapshot: str,
    params: dict[str, Any],
    write_model: Callable[[Path], None] | None = None,
) -> ModelManifest:
    """A new version of recall model `name`; `write_model(folder)` adds model-specific files.

    The manifest's params record the similarity (`metric`) and the Milvus metric of the index.
    """

    def write(folder: Path) -> None:
        write_index_artifacts(folder, paths, item_ids, vectors, INDEX_METRIC)
        if write_model is not None:
            write_model(folder)

    return Registry(paths.registry).publish(
        "recall",
        name,
        write=write,
        metrics=metrics,
        data_snapshot=data_snapshot,
        params={**params, "metric": METRIC, "index_metric": INDEX_METRIC},
    )
