"""The online update of the serving ranker (`starling learn`, the app's Learner).

Samples are rebuilt first when the lake changed since they were made. The serving version is
fine-tuned from its weights on the samples newer than what it learnt (its TRAINED_UNTIL param),
except the newest window of them, on which the candidate and the serving version are both
judged (`evaluation.online_gate`). The candidate is registered either way; it serves only when
the gate accepts it, through the hot swap of `starling models promote`, and the decision is
recorded. Ray must be initialised by the caller.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cluster.control.model_decisions import carry_out
from cluster.online.common import (
    LearnResult,
    last_judged_ms,
    pinned_serving,
    refresh_samples,
    window_info,
)
from core.decisions import Decision, WindowMetrics
from core.feature_schema import RANK_FEATURES
from core.filesystem import StoragePath
from core.paths import StarlingPaths
from core.registry import ModelManifest, ModelRef, Registry
from core.settings import Settings
from core.storage import fingerprint
from evaluation.online_gate import judge, score_window
from rank_service.artifacts import RankArtifacts, load_artifacts
from rank_service.parquet import count_rows, read_folder, read_sample
from rank_service.training.fine_tune import fine_tune
from rank_service.training.loss import LOGQ, NEGATIVE
from rank_service.training.online_data import NothingNewError, OnlineSplit, online_split
from rank_service.training.recalibrate import recalibrated
from rank_service.training.report import TRAINED_UNTIL, curves_from_history, publish_rank
from rank_service.training.splits import TIME_COLUMN, newest_ms
from rank_service.training.train import TrainRun

logger = logging.getLogger(__name__)

COLUMNS = [*RANK_FEATURES.columns(), RANK_FEATURES.label, TIME_COLUMN, NEGATIVE, LOGQ]


def _samples(
    paths: StarlingPaths, trained_until_ms: int, replay_ratio: float, most: int, seed: int
) -> pa.Table:
    """The train and test samples newer than `trained_until_ms` (the newest of them, when with
    their replay they would pass `most` rows), and a uniform sample of the older ones,
    `replay_ratio` of them for each new one: all that `online_split` draws from.

    Reading every sample instead held ~75M rows at ml-25m's size and filled 24 GiB; and the
    first update after `train rank` finds the whole test split (~15M rows there) new.
    """
    folders = [paths.train_samples, paths.test_samples]
    time_ms = pc.field(TIME_COLUMN).cast(pa.int64())
    newer = time_ms > trained_until_ms
    cutoff = _newest_rows_from(folders, newer, math.floor(most / (1.0 + replay_ratio)))
    new = [
        read_folder(folder, COLUMNS, where=newer if cutoff is None else time_ms >= cutoff)
        for folder in folders
    ]
    older = [count_rows(folder, ~newer) for folder in folders]
    budget = math.ceil(replay_ratio * sum(table.num_rows for table in new))
    seen = [
        read_sample(folder, COLUMNS, math.ceil(budget * rows / max(1, sum(older))), seed, ~newer)
        for folder, rows in zip(folders, older, strict=True)
    ]
    return pa.concat_tables([*seen, *new], promote_options="default")


def _newest_rows_from(folders: list[StoragePath], where: pc.Expression, rows: int) -> int | None:
    """The time (ms) from which the newest `rows` of the rows matching `where` begin; None
    when no more than `rows` match."""
    times = np.concatenate(
        [np.zeros(0, dtype=np.int64)]
        + [
            read_folder(folder, [TIME_COLUMN], where=where)
            .column(TIME_COLUMN)
            .cast(pa.int64())
            .to_numpy()
            for folder in folders
        ]
    )
    if len(times) <= rows:
        return None
    return int(np.partition(times, len(times) - rows)[len(times) - rows])


def _check_news(registry: Registry, serving: ModelRef, samples: pa.Table) -> None:
    """NothingNewError when the serving version was already judged against a candidate on a
    window that reached the newest sample: the same data would give the same candidate again
    (a `learn` left running would register one per interval)."""
    last = last_judged_ms(registry, serving)
    if last is not None and newest_ms(samples) <= last:
        raise NothingNewError(
            f"no samples newer than the window rank {serving.name} {serving.version} was last "
            "judged on"
        )


def _metrics(
    metrics: WindowMetrics, candidate: RankArtifacts, run: TrainRun, split: OnlineSplit
) -> dict[str, float]:
    """The candidate manifest's metrics: its window figures, prefixed so that they are never
    taken for the test-split metrics that `starling train rank` records."""
    figures = {
        "window_calibration": metrics.calibration,
        "window_log_loss": metrics.log_loss,
        "window_rows": float(metrics.rows),
        "logit_offset": candidate.config.logit_offset,
        "train_seconds": run.seconds,
        "val_roc_auc": float(run.best.get("best_val_roc_auc", float("nan"))),
        "new_rows": float(split.new_rows),
        "replayed_rows": float(split.replayed_rows),
    }
    if metrics.roc_auc is not None:
        figures["window_roc_auc"] = metrics.roc_auc
    return figures


def _publish(
    settings: Settings,
    paths: StarlingPaths,
    serving: ModelManifest,
    candidate: RankArtifacts,
    metrics: dict[str, float],
    run: TrainRun,
    split: OnlineSplit,
) -> ModelManifest:
    rank = settings.rank.model_copy(
        update={"model": serving.name, "loss": serving.params.get("loss", settings.rank.loss)}
    )
    extra = {
        TRAINED_UNTIL: newest_ms(pa.concat_tables([split.train, split.validation])),
        "fine_tuned_from": f"{serving.name}/{serving.version}",
        "online": settings.online.model_dump(),
    }
    return publish_rank(
        Registry(paths.registry),
        rank,
        candidate,
        metrics,
        curves_from_history(run.history),
        fingerprint(paths.train_samples),
        extra,
    )


def learn_rank(
    settings: Settings, paths: StarlingPaths, say: Callable[[str], None] = logger.info
) -> LearnResult:
    """One online update of the serving ranker (see the module docstring)."""
    started = time.perf_counter()
    rebuilt = refresh_samples(settings, paths)
    registry = Registry(paths.registry)
    ref = pinned_serving(settings, registry, "rank")
    manifest = registry.manifest(ref)
    serving = load_artifacts(registry.path(ref))
    online = settings.online
    trained_until = int(
        manifest.params.get(TRAINED_UNTIL)
        or newest_ms(read_folder(paths.train_samples, [TIME_COLUMN]))
    )
    samples = _samples(
        paths,
        trained_until,
        online.replay_ratio,
        settings.rank.max_sample_rows,
        settings.train.seed,
    )
    _check_news(registry, ref, samples)
    split = online_split(
        samples,
        trained_until,
        online.window_fraction,
        settings.rank.validation_fraction,
        online.replay_ratio,
        online.min_window_rows,
        settings.train.seed,
    )
    say(
        f"fine-tuning rank {ref.name} {ref.version} on {split.new_rows:,} new samples and "
        f"{split.replayed_rows:,} replayed ones; judging on the newest {split.window.num_rows:,}"
    )
    loss = manifest.params.get("loss", settings.rank.loss)
    tuned, run = fine_tune(settings, paths, serving, loss, split.train, split.validation)
    # On the newest rows it trained on, never on the window it is judged on.
    candidate = recalibrated(tuned, split.validation)
    candidate_metrics = score_window(candidate, split.window)
    serving_metrics = score_window(serving, split.window)
    verdict = judge(candidate_metrics, serving_metrics, online)
    published = _publish(
        settings,
        paths,
        manifest,
        candidate,
        _metrics(candidate_metrics, candidate, run, split),
        run,
        split,
    )
    decision = Decision(
        kind="rank",
        action="promoted" if verdict.accepted else "refused",
        candidate=published.ref(),
        serving=ref,
        reasons=verdict.reasons,
        candidate_metrics=candidate_metrics,
        serving_metrics=serving_metrics,
        window=window_info(split.window, newest_ms(split.window)),
    )
    return LearnResult(
        decision=carry_out(settings, decision),
        candidate=published,
        features_rebuilt=rebuilt,
        new_rows=split.new_rows,
        replayed_rows=split.replayed_rows,
        seconds=time.perf_counter() - started,
    )
