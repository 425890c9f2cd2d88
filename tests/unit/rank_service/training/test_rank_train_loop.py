from collections.abc import Iterator

import pyarrow as pa
import pytest
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from core.settings import RankSettings
from rank_service.encoding import FeatureEncoder
from rank_service.training.fit import fit_local
from rank_service.training.holdout import model_config
from rank_service.training.loss import LossSpec
from rank_service.training.splits import time_tail_split
from rank_service.training.synthetic import synthetic_items, synthetic_samples
from rank_service.training.train_loop import loop_config, train_loop


class _Shard:
    """What `train_loop` reads of a Ray Data shard: Arrow blocks of a table, in order."""

    def __init__(self, table: pa.Table, block_rows: int) -> None:
        self.table = table
        self.block_rows = block_rows

    def iter_batches(self, batch_size: None, batch_format: str) -> Iterator[pa.Table]:
        assert batch_size is None and batch_format == "pyarrow"
        for start in range(0, self.table.num_rows, self.block_rows):
            yield self.table.slice(start, self.block_rows)


def test_one_ray_train_worker_trains_the_same_epochs_as_fit_local(tmp_path) -> None:
    samples = synthetic_samples(synthetic_items(100), rows=1500, negatives=1, seed=3)
    train, validation = time_tail_split(samples, 0.2)
    encoder = FeatureEncoder.fit(train)
    rank = RankSettings(epochs=3, patience=3, batch_size=64, lr=2e-2, loss="bce_logq")
    config = model_config("deepfm", rank, encoder)
    loss = LossSpec.for_encoder(rank.loss, encoder)
    local = fit_local(config, encoder, train, validation, rank, seed=5)
    # Ray Train's local mode runs the loop in this process, without Ray, on the given shards.
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=loop_config(
            encoder, config, rank.epochs, rank.batch_size, rank.lr, 5, rank.patience, loss
        ),
        scaling_config=ScalingConfig(num_workers=0),
        run_config=RunConfig(storage_path=str(tmp_path), name="local"),
        datasets={"train": _Shard(train, 500), "validation": _Shard(validation, 128)},
    )
    history = trainer.fit().return_value
    assert [m["epoch"] for m in history] == [1, 2, 3]
    assert [m["rows"] for m in history] == [train.num_rows] * 3
    assert [m["loss"] for m in history] == pytest.approx(local.losses, rel=1e-5)
    assert [m["val_roc_auc"] for m in history] == pytest.approx(local.val_scores, rel=1e-6)
    assert history[-1]["best_epoch"] == local.best_epoch
