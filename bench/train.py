"""Training throughput: Ray Train (1 and 2 workers) against a plain torch loop, same data and model.

Usage:
    .venv/bin/python bench/train.py                       # deepfm and din, 100k rows, 3 epochs
    .venv/bin/python bench/train.py --rows 20000 --epochs 2 --models deepfm

Both sides train the same model config with the same encoder, batch size and optimiser on the
same synthetic samples (rank_service/training/synthetic.py: the schema and list columns of real
samples). The plain loop is what `fit_local` does: encode everything once, then shuffle and
slice tensors each epoch. Ray Train runs `rank_service.training.train_loop.train_loop`, as
`starling train rank` does: each worker reads its shard of the samples from Parquet through
Ray Data once, encodes it, and then does the same.

Steady-state samples/s is the median over epochs after the first (the first pays for warm-up
on both sides); start-up is the rest of the wall time: Ray Train's worker group and Ray Data
start, both sides' reading and encoding, and both sides' validation passes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data
import torch
from pydantic import BaseModel
from ray.train import DataConfig, RunConfig, ScalingConfig, UserCallback
from ray.train.torch import TorchTrainer

from cluster.runtime.local_ray import start_local_ray
from cluster.runtime.session import set_worker_niceness
from core.settings import RankSettings, Settings
from ingest.features.feature_io import configure_ray_data
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.training.fit import score_batches, train_epoch
from rank_service.training.holdout import model_config
from rank_service.training.splits import time_tail_split
from rank_service.training.synthetic import synthetic_items, synthetic_samples
from rank_service.training.train_loop import loop_config, train_loop


class Run(BaseModel):
    """One side's training run: samples/s and seconds of each epoch's steps, and wall time."""

    model: str
    side: str
    workers: int
    epochs: list[float]
    epoch_seconds: list[float]
    wall_s: float

    @property
    def steady(self) -> float:
        return statistics.median(self.epochs[1:] or self.epochs)

    @property
    def startup_s(self) -> float:
        return self.wall_s - sum(self.epoch_seconds)


class EpochLog(UserCallback):
    """Appends worker 0's report of every epoch to a JSON Lines file.

    Ray Train keeps only the metrics reported with checkpoints, and train_loop checkpoints only
    better epochs; the controller that calls this runs on this machine, so a file reaches it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def after_report(
        self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any
    ) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(metrics[0]) + "\n")


def plain_loop(
    config: RankModelConfig,
    encoder: FeatureEncoder,
    train: pa.Table,
    validation: pa.Table,
    rank: RankSettings,
    seed: int,
) -> Run:
    started = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=rank.lr)
    data = encoder.encode(train)
    held = encoder.encode(validation)
    generator = torch.Generator().manual_seed(seed)
    rates, seconds = [], []
    for _ in range(rank.epochs):
        epoch_started = time.perf_counter()
        order = torch.randperm(train.num_rows, generator=generator)
        batches = ({k: v[i] for k, v in data.items()} for i in order.split(rank.batch_size))
        _, rows = train_epoch(model, batches, optimizer, "cpu")
        elapsed = time.perf_counter() - epoch_started
        rates.append(rows / elapsed)
        seconds.append(elapsed)
        score_batches(model, [held], "cpu")
    wall = time.perf_counter() - started
    return Run(
        model=config.name,
        side="plain torch",
        workers=1,
        epochs=rates,
        wall_s=wall,
        epoch_seconds=seconds,
    )


def ray_train(
    config: RankModelConfig,
    encoder: FeatureEncoder,
    files: list[str],
    validation: pa.Table,
    rank: RankSettings,
    seed: int,
    workers: int,
    work: Path,
) -> Run:
    log = work / f"{config.name}-{workers}.jsonl"
    log.unlink(missing_ok=True)
    trainer = TorchTrainer(
        train_loop,
        # Patience = epochs: every run trains every epoch, so both sides do the same work.
        train_loop_config=loop_config(
            encoder, config, rank.epochs, rank.batch_size, rank.lr, seed, rank.epochs
        ),
        scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(
            storage_path=str(work / "ray_train"),
            name=f"bench-{config.name}-{workers}-{time.time_ns()}",
            callbacks=[EpochLog(log)],
        ),
        datasets={
            "train": ray.data.read_parquet(files),
            "validation": ray.data.from_arrow(validation),
        },
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )
    started = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - started
    reports = [json.loads(line) for line in log.read_text().splitlines()]
    return Run(
        model=config.name,
        side="Ray Train",
        workers=workers,
        epochs=[r["samples_per_s"] for r in reports],
        wall_s=wall,
        epoch_seconds=[r["seconds"] for r in reports],
    )


def table(runs: list[Run]) -> str:
    lines = [
        f"{'model':8} {'side':12} {'workers':>7} {'steady samples/s':>17} {'x plain':>8} "
        f"{'start-up s':>11} {'wall s':>7}   samples/s by epoch"
    ]
    plain: dict[str, float] = {}
    for r in runs:
        if r.side == "plain torch":
            plain[r.model] = max(plain.get(r.model, 0.0), r.steady)
    for r in runs:
        by_epoch = " ".join(f"{x:.0f}" for x in r.epochs)
        lines.append(
            f"{r.model:8} {r.side:12} {r.workers:>7} {r.steady:>17.0f} "
            f"{r.steady / plain[r.model]:>8.2f} {r.startup_s:>11.1f} {r.wall_s:>7.1f}   {by_epoch}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=RankSettings().batch_size)
    parser.add_argument("--models", nargs="+", default=["deepfm", "din"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the plain loop; Ray gives each 0.5-CPU worker one (OMP_NUM_THREADS)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--result", type=Path, default=Path("bench/results/train.txt"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    items = synthetic_items(args.items, seed=args.seed)
    samples = synthetic_samples(items, rows=args.rows, n_users=args.users, seed=args.seed)
    train, validation = time_tail_split(samples, 0.1)
    encoder = FeatureEncoder.fit(train)
    rank = RankSettings(epochs=args.epochs, batch_size=args.batch_size)
    header = (
        f"bench/train.py: {train.num_rows} train rows, {validation.num_rows} validation rows, "
        f"{args.epochs} epochs, batch {args.batch_size}, {os.cpu_count()} CPUs, "
        f"torch threads: plain loop {torch.get_num_threads()}, Ray Train workers 1, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(header, flush=True)

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="starling-bench-train-") as tmp:
        work = Path(tmp)
        parts = 8
        step = -(-train.num_rows // parts)
        files = []
        for n in range(parts):
            path = work / f"part-{n}.parquet"
            pq.write_table(train.slice(n * step, step), path)
            files.append(str(path))
        # As `starling train rank` runs them: Ray's own default of 15 would leave its workers
        # only the CPU that the plain loop, at 0 in this process, and anything else running
        # do not take.
        set_worker_niceness(Settings())
        start_local_ray(Settings(), num_cpus=2, include_dashboard=False, log_to_driver=False)
        configure_ray_data()
        try:
            for name in args.models:
                config = model_config(name, rank, encoder)
                # The plain loop runs before and after Ray Train and the faster run is the
                # baseline: on a shared machine the load changes within minutes.
                runs.append(plain_loop(config, encoder, train, validation, rank, args.seed))
                print(table(runs).splitlines()[-1], flush=True)
                for workers in args.workers:
                    runs.append(
                        ray_train(
                            config, encoder, files, validation, rank, args.seed, workers, work
                        )
                    )
                    print(table(runs).splitlines()[-1], flush=True)
                runs.append(plain_loop(config, encoder, train, validation, rank, args.seed))
                print(table(runs).splitlines()[-1], flush=True)
        finally:
            ray.shutdown()

    report = "\n".join(
        [header, "", table(runs), "", f"load average after: {os.getloadavg()[0]:.1f}"]
    )
    print("\n" + report)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(report + "\n")


if __name__ == "__main__":
    main()
