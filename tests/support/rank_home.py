"""A Starling home with item features and ranking versions fitted in process, in seconds.

Serving tests and benchmarks need registered versions, not Ray Train runs: each version here
is fitted for one epoch on synthetic samples with `fit_local`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.training.fit import fit_local
from rank_service.training.holdout import model_config
from rank_service.training.splits import time_tail_split
from tests.support.rank_samples import synthetic_samples


def write_item_features(paths: StarlingPaths, items: pa.Table) -> None:
    paths.item_features.mkdir(parents=True, exist_ok=True)
    pq.write_table(items, paths.item_features / "part-0.parquet")
    (paths.item_features / "_manifest.json").write_text("{}")


def publish_fitted(
    paths: StarlingPaths, items: pa.Table, name: str, seed: int = 0, rows: int = 2000
) -> ModelManifest:
    """Fit `name` for one epoch on synthetic samples over `items` and register it."""
    samples = synthetic_samples(items, rows=rows, seed=seed)
    train, validation = time_tail_split(samples, 0.2)
    encoder = FeatureEncoder.fit(train)
    rank = RankSettings(model=name, epochs=1, batch_size=64, lr=1e-2, hidden=[32, 16])
    config = model_config(name, rank, encoder)
    fitted = fit_local(config, encoder, train, validation, rank, seed=seed)
    state = fitted.model.state_dict()
    return Registry(paths.registry).publish(
        "rank",
        name,
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={"val_roc_auc": fitted.val_roc_auc},
        data_snapshot=f"synthetic-{seed}",
    )
