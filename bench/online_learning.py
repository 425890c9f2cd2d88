"""Online updating against a frozen ranker, window by window (#19 (c) and (d)).

The last `test_fraction` of a data set's time (the features job's test samples) is cut into
`--windows` windows of equal sample counts, played in order as if each were the next stretch
of live traffic. Three rankers of the same architecture and settings face each window:

- frozen: trained once on everything before the first window (in process, as `fit_local`);
- online, every window: after each window, fine-tuned from its weights on that window (plus
  replayed older samples), exactly the steps `starling learn` takes (`grow_artifacts`, the
  online settings' epochs and learning rate, the best epoch on a validation tail);
- online, rarely: the same, every `--rare` windows, on the windows since its last update.

Each is scored on the window it has not seen yet: ROC AUC over its samples (rated rows,
sampled negatives, ignored impressions) and, over the whole catalogue for up to `--users`
users, NDCG@10 and Recall@50 of their positives in it. Also printed: how long one update (the
features job on the grown lake, then the fine-tuning) takes on this machine, which bounds the
age of the newest event the serving model has learnt from: STARLING_ONLINE__INTERVAL + that.

    .venv/bin/python bench/online_learning.py --data ../shared/data/ml-latest-small
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from cluster.runtime.local_ray import start_local_ray
from core.feature_schema import RANK_FEATURES
from core.paths import StarlingPaths
from core.settings import Settings
from evaluation.online_gate import score_window
from ingest.features.feature_io import configure_ray_data
from ingest.features.job import build_features
from ingest.lake.job import ingest_source
from rank_service.artifacts import RankArtifacts
from rank_service.encoding import FeatureEncoder
from rank_service.parquet import read_folder
from rank_service.serving.scorer import ITEM_COLUMNS
from rank_service.training.catalogue import (
    SCORING_COLUMNS,
    catalogue_metrics,
    ndcg_key,
    recall_key,
)
from rank_service.training.fine_tune import grow_artifacts
from rank_service.training.fit import (
    EarlyStopping,
    fit_local,
    score_batches,
    slices,
    train_epoch,
    validation_score,
)
from rank_service.training.holdout import model_config
from rank_service.training.loss import LOGQ, NEGATIVE, LossSpec, training_batch
from rank_service.training.splits import TIME_COLUMN, time_tail_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"
FROZEN, EVERY, RARE = "frozen", "online, every window", "online, rarely"


def _columns() -> list[str]:
    columns = [*RANK_FEATURES.columns(), *SCORING_COLUMNS, RANK_FEATURES.label, TIME_COLUMN]
    return [*dict.fromkeys([*columns, NEGATIVE, LOGQ, "user_id", "item_id"])]


def prepare(settings: Settings, data: Path) -> float:
    """Ingest `data` into the home and build its features; the features job's seconds."""
    paths = StarlingPaths.of(settings)
    start_local_ray(settings, num_cpus=2, include_dashboard=False, log_to_driver=False)
    configure_ray_data()
    ingest_source(settings, paths, data)
    started = time.perf_counter()
    build_features(settings, paths)
    return time.perf_counter() - started


def windows_of(test: pa.Table, count: int) -> list[pa.Table]:
    """`test` cut by time into `count` windows of about equal rows (a moment never straddles
    two)."""
    times = test.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    cuts = np.ceil(np.quantile(times, np.linspace(0, 1, count + 1)[1:-1]))
    which = np.searchsorted(cuts, times, side="right")
    return [test.filter(pa.array(which == index)) for index in range(count)]


def fine_tuned(
    serving: RankArtifacts, new: pa.Table, seen: pa.Table, settings: Settings
) -> tuple[RankArtifacts, float]:
    """`serving` fine-tuned in process on `new` plus as many replayed `seen` rows times the
    replay ratio, its newest validation_fraction of `new` held out for the best epoch, as
    `starling learn` does with Ray Train; and the seconds it took."""
    started = time.perf_counter()
    online = settings.online
    fresh, validation = time_tail_split(new, settings.rank.validation_fraction)
    replay = int(fresh.num_rows * online.replay_ratio)
    picked = np.random.default_rng(settings.train.seed).choice(
        seen.num_rows, size=min(replay, seen.num_rows), replace=False
    )
    train = pa.concat_tables([fresh, seen.take(np.sort(picked))])
    grown = grow_artifacts(serving, new)
    model = grown.model
    loss = LossSpec.for_encoder(settings.rank.loss, grown.encoder)
    data, held = training_batch(grown.encoder, train), training_batch(grown.encoder, validation)
    optimizer = torch.optim.Adam(model.parameters(), lr=online.lr)
    generator = torch.Generator().manual_seed(settings.train.seed)
    stopper, best = EarlyStopping(online.epochs), copy.deepcopy(model.state_dict())
    for epoch in range(1, online.epochs + 1):
        order = torch.randperm(train.num_rows, generator=generator)
        train_epoch(model, slices(data, order, online.batch_size), optimizer, "cpu", loss)
        everything = torch.arange(validation.num_rows)
        labels, probs = score_batches(model, slices(held, everything, 8192), "cpu")
        if stopper.update(epoch, validation_score(labels, probs)):
            best = copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    model.eval()
    return grown, time.perf_counter() - started


def scores(
    model: RankArtifacts, items: pa.Table, seen: pa.Table, window: pa.Table, users: int
) -> dict[str, float]:
    top_n = catalogue_metrics(model, items, seen, window, users) or {}
    return {
        "auc": score_window(model, window).roc_auc or float("nan"),
        "ndcg@10": top_n.get(ndcg_key(10), float("nan")),
        "recall@50": top_n.get(recall_key(50), float("nan")),
    }


def run(settings: Settings, windows: int, rare: int, users: int) -> None:
    paths = StarlingPaths.of(settings)
    columns = _columns()
    train = read_folder(paths.train_samples, columns)
    test = read_folder(paths.test_samples, columns)
    items = read_folder(paths.item_features, ITEM_COLUMNS)
    parts = windows_of(test, windows)
    fit_rows, validation = time_tail_split(train, settings.rank.validation_fraction)
    encoder = FeatureEncoder.fit(fit_rows)
    config = model_config(settings.rank.model, settings.rank, encoder)
    torch.set_num_threads(2)
    fitted = fit_local(config, encoder, fit_rows, validation, settings.rank, settings.train.seed)
    frozen = RankArtifacts(config=config, encoder=encoder, model=fitted.model.eval())
    print(f"# frozen {settings.rank.model}: {train.num_rows:,} samples, {fitted.seconds:.0f} s")
    models = {FROZEN: frozen, EVERY: frozen, RARE: frozen}
    pending: list[pa.Table] = []
    seconds: list[float] = []
    totals: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    header = f"{'window':>6} {'rows':>7}  " + "  ".join(f"{name:>22}" for name in models)
    print("# AUC / NDCG@10 / Recall@50 of each ranker on the window it has not seen yet")
    print(header)
    for index, window in enumerate(parts):
        seen = pa.concat_tables([train, *parts[:index]])
        if index > 0:
            cells = []
            for name, model in models.items():
                figures = scores(model, items, seen, window, users)
                totals[name].append(figures)
                cells.append(
                    f"{figures['auc']:.4f}/{figures['ndcg@10']:.4f}/{figures['recall@50']:.4f}"
                )
            print(f"{index + 1:>6} {window.num_rows:>7,}  " + "  ".join(f"{c:>22}" for c in cells))
        models[EVERY], took = fine_tuned(models[EVERY], window, seen, settings)
        seconds.append(took)
        pending.append(window)
        if (index + 1) % rare == 0:
            batch = pa.concat_tables(pending)
            models[RARE], _ = fine_tuned(models[RARE], batch, seen, settings)
            pending = []
    print("# mean over the scored windows")
    for name, rows in totals.items():
        means = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        shown = "  ".join(f"{k} {v:.4f}" for k, v in means.items())
        print(f"{name:>22}  {shown}")
    for name in (EVERY, RARE):
        gain = np.nanmean([r["auc"] for r in totals[name]]) - np.nanmean(
            [r["auc"] for r in totals[FROZEN]]
        )
        print(f"# {name} - frozen: AUC {gain:+.4f}")
    print(f"# one fine-tuning on a window: {np.median(seconds):.1f} s median (in process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--home", type=Path, default=None, help="kept home (default: a temp one)")
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--rare", type=int, default=4, help="windows between rare updates")
    parser.add_argument("--users", type=int, default=300, help="users per catalogue ranking")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data}: no such data set")
    print(f"# bench/online_learning.py on {args.data}, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(home=args.home or Path(scratch) / "home")
        paths = StarlingPaths.of(settings)
        if not paths.train_samples.exists():
            print(f"# features job: {prepare(settings, args.data):.1f} s")
        run(settings, args.windows, args.rare, args.users)
    print(f"# load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
