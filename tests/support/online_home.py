"""A home for the online update: samples where newer ones bring users and items the serving
ranker never saw, and a serving ranker fitted in process on the older ones only."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import RankSettings
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig
from rank_service.training.fit import fit_local
from rank_service.training.holdout import model_config
from rank_service.training.report import TRAINED_UNTIL
from rank_service.training.splits import newest_ms, time_tail_split
from rank_service.training.synthetic import synthetic_items, synthetic_samples, write_item_features

OLD_ITEMS, ALL_ITEMS = 200, 250
OLD_USERS, ALL_USERS = 100, 150
# The serving ranker's size: small, so that fitting and fine-tuning take seconds.
RANK = RankSettings(epochs=2, batch_size=64, lr=1e-2, hidden=[32, 16], embedding_dim=8)


def _later(table: pa.Table, ms: int) -> pa.Table:
    """`table` with its `ts` and `user_last_ts` moved `ms` later."""
    for name in ("ts", "user_last_ts"):
        index = table.schema.get_field_index(name)
        moved = pc.add(table.column(name).cast(pa.int64()), ms).cast(table.schema.field(name).type)
        table = table.set_column(index, table.schema.field(name), moved)
    return table


def online_samples(new_rows: int = 1200) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(items, old samples, new samples): the old ones over the first OLD_ITEMS items and
    OLD_USERS users, the new ones, all after them, over every item and user."""
    items = synthetic_items(ALL_ITEMS)
    old = synthetic_samples(items.slice(0, OLD_ITEMS), rows=2000, n_users=OLD_USERS, seed=0)
    new = synthetic_samples(items, rows=new_rows, n_users=ALL_USERS, seed=1)
    first_new = pc.min(new.column("ts").cast(pa.int64())).as_py()
    return items, old, _later(new, newest_ms(old) + 60_000 - first_new)


def fitted_serving(
    old: pa.Table,
) -> tuple[FeatureEncoder, RankModelConfig, dict[str, torch.Tensor]]:
    """(encoder, config, state dict) of an mlp fitted in process on `old`."""
    train, validation = time_tail_split(old, 0.2)
    encoder = FeatureEncoder.fit(train)
    config = model_config("mlp", RANK, encoder)
    fitted = fit_local(config, encoder, train, validation, RANK, seed=0)
    return encoder, config, fitted.model.state_dict()


def _write(folder: Path, table: pa.Table) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-0.parquet")
    (folder / "_manifest.json").write_text("{}")


def online_home(home: Path) -> ModelManifest:
    """Train samples = the old ones and the first sixth of the new ones, test = the rest (no
    lake, so `starling learn` takes the samples as they are); mlp v1, fitted on the old ones
    only, serves."""
    paths = StarlingPaths(home)
    items, old, new = online_samples()
    head = new.num_rows // 6
    _write(paths.train_samples, pa.concat_tables([old, new.slice(0, head)]))
    _write(paths.test_samples, new.slice(head))
    write_item_features(paths, items)
    encoder, config, state = fitted_serving(old)
    registry = Registry(paths.registry)
    manifest = registry.publish(
        "rank",
        "mlp",
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={},
        data_snapshot="old",
        params={**RANK.model_dump(), TRAINED_UNTIL: newest_ms(old)},
    )
    registry.promote(manifest.ref())
    return manifest
