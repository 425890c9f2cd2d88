"""compare_rank_models: every ranking model against the logistic-regression baseline, offline.

All models train in this process on the same encoded train samples (early stopping on the last
share of train time), are scored on the same time-split test samples, and land in one table,
`stats/rank_comparison.json`, with their ROC curves in `stats/rank_roc.png`. Sampled
negatives in the samples join training (`rank.loss`); the classification metrics are over the
rated test rows, `negatives_roc_auc` ranks positives against the sampled negatives, and
`ndcg_at_10` ranks the whole catalogue for up to `rank.ndcg_users` test users.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from core.feature_schema import RANK_FEATURES
from core.paths import StarlingPaths
from core.settings import RankSettings, Settings
from core.storage import write_json_atomic
from evaluation.rank.roc_plot import write_roc_png
from rank_service.models import BASELINE, MODELS
from rank_service.parquet import read_folder, read_sample
from rank_service.serving.scorer import ITEM_COLUMNS
from rank_service.training.catalogue import SCORING_COLUMNS, rated
from rank_service.training.holdout import local_device, random_split_metrics, train_and_score
from rank_service.training.loss import LOGQ, NEGATIVE
from rank_service.training.splits import TIME_COLUMN

logger = logging.getLogger(__name__)

COMPARISON_FILE = "rank_comparison.json"
ROC_FILE = "rank_roc.png"


class RankRow(BaseModel):
    """One model's test metrics on the time split: classification metrics over rated rows."""

    model: str
    roc_auc: float
    pr_auc: float
    log_loss: float
    accuracy: float
    train_seconds: float = Field(description="in-process training time, early stopping included")
    best_epoch: int = Field(description="epoch whose weights were kept (best validation AUC)")
    epochs_run: int
    val_roc_auc: float
    negatives_roc_auc: float | None = Field(
        None, description="ROC AUC of positives against sampled negatives, when the test has them"
    )
    ndcg_at_10: float | None = Field(
        None, description="NDCG@10 of test users' positives, ranking the whole catalogue"
    )
    curves: dict[str, list[float]] = Field(
        default_factory=dict, description="training loss and validation AUC per epoch"
    )
    random_split_roc_auc: float | None = Field(
        None, description="test ROC AUC on SparrowRecSys's random 80/20 split, when asked for"
    )


class RankComparison(BaseModel):
    """The comparison table: one row per model, the baseline first."""

    baseline: str = BASELINE
    train_rows: int
    test_rows: int
    rank: RankSettings = Field(description="the hyperparameters every model trained with")
    seed: int
    rows: list[RankRow]

    def row(self, model: str) -> RankRow:
        return next(r for r in self.rows if r.model == model)

    def beats_baseline(self) -> dict[str, bool]:
        """Model name -> whether its test ROC AUC is above the baseline's."""
        base = self.row(self.baseline).roc_auc
        return {r.model: r.roc_auc > base for r in self.rows if r.model != self.baseline}

    def table(self) -> str:
        """A plain-text table for a terminal, best test ROC AUC first."""
        header = (
            f"{'model':<20} {'ROC AUC':>8} {'PR AUC':>8} {'logloss':>8} {'accuracy':>8} "
            f"{'neg AUC':>8} {'NDCG@10':>8} {'epochs':>7} {'seconds':>8} {'random AUC':>10}"
        )
        lines = [header, "-" * len(header)]
        for r in sorted(self.rows, key=lambda r: r.roc_auc, reverse=True):
            random_auc, negatives_auc, ndcg = (
                "-" if v is None else f"{v:.4f}"
                for v in (r.random_split_roc_auc, r.negatives_roc_auc, r.ndcg_at_10)
            )
            lines.append(
                f"{r.model:<20} {r.roc_auc:>8.4f} {r.pr_auc:>8.4f} {r.log_loss:>8.4f} "
                f"{r.accuracy:>8.4f} {negatives_auc:>8} {ndcg:>8} "
                f"{f'{r.best_epoch}/{r.epochs_run}':>7} "
                f"{r.train_seconds:>8.1f} {random_auc:>10}"
            )
        return "\n".join(lines)


def compare_rank_models(
    settings: Settings,
    paths: StarlingPaths,
    models: list[str] | None = None,
    random_split: bool = False,
) -> RankComparison:
    """Train and score `models` (all registered ones when None) and the baseline, in process.

    With `random_split`, every model is also trained and scored once more on a random 80/20
    split of all samples, the protocol SparrowRecSys reported (a second training per model).
    Writes `stats/rank_comparison.json` and `stats/rank_roc.png`; needs no Ray.
    """
    names = [BASELINE, *[n for n in (models or list(MODELS)) if n != BASELINE]]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ValueError(f"unknown rank models {unknown}; known: {sorted(MODELS)}")
    columns = [*RANK_FEATURES.columns(), *SCORING_COLUMNS, RANK_FEATURES.label, TIME_COLUMN]
    columns += [NEGATIVE, LOGQ]
    rank, seed = settings.rank, settings.train.seed
    train = read_sample(paths.train_samples, columns, rank.max_sample_rows, seed)
    test = read_sample(paths.test_samples, columns, rank.max_sample_rows, seed)
    items = read_folder(paths.item_features, ITEM_COLUMNS)
    rated_rows = rated(test).num_rows
    device = local_device(settings.train.use_gpu)
    everything = pa.concat_tables([train, test])
    rows: list[RankRow] = []
    roc: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in names:
        result = train_and_score(name, train, test, rank, seed, device=device, items=items)
        extra: dict[str, float] = {}
        if random_split:
            random_metrics = random_split_metrics(name, everything, rank, seed, device)
            extra["random_split_roc_auc"] = random_metrics["random_split_roc_auc"]
        rows.append(
            RankRow(
                model=name,
                train_seconds=result.train_seconds,
                best_epoch=result.best_epoch,
                epochs_run=result.epochs_run,
                val_roc_auc=result.val_roc_auc,
                curves=result.curves,
                **result.metrics,
                **extra,
            )
        )
        roc[name] = (result.labels, result.probs)
    comparison = RankComparison(
        train_rows=train.num_rows,
        test_rows=rated_rows,
        rank=rank,
        seed=seed,
        rows=rows,
    )
    paths.stats.mkdir(parents=True, exist_ok=True)
    write_json_atomic(paths.stats / COMPARISON_FILE, comparison.model_dump(mode="json"))
    title = f"Ranking models on the time-split test ({rated_rows} rated rows)"
    write_roc_png(roc, paths.stats / ROC_FILE, title)
    logger.info("rank comparison:\n%s", comparison.table())
    return comparison
