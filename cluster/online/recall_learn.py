"""The online update of the serving recall model, the item bag (`starling learn`, the app's
Learner).

Samples are rebuilt first when the lake changed since they were made. The serving version is
fine-tuned from its weights on the rated rows newer than what it learnt (its TRAINED_UNTIL
param), growing its vocabulary to the items they bring, except the newest window of them, on
which the candidate and the serving version are both judged by Recall@50
(`evaluation.online_recall_gate`). The candidate is registered either way (its index built for
its vectors); it serves only when the gate accepts it, through the hot swap of `starling models
promote`, and the decision is recorded. Ray must be initialised by the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cluster.control.model_decisions import carry_out
from cluster.online.common import (
    LearnResult,
    last_judged_ms,
    pinned_serving,
    refresh_samples,
    window_info,
)
from core.decisions import Decision, WindowMetrics
from core.errors import MissingDataError
from core.history_embeddings import HistoryEmbeddings
from core.paths import StarlingPaths
from core.registry import ModelManifest, ModelRef, Registry
from core.settings import Settings
from core.storage import fingerprint
from evaluation.online_recall_gate import judge_recall, recall_window_metrics
from recall_service.training.bag_fine_tune import BagRun, fine_tune_bag
from recall_service.training.bag_online_data import (
    BagUpdateSplit,
    NothingNewToLearnError,
    bag_update_split,
    times_ms,
    window_users,
)
from recall_service.training.bag_version import TRAINED_UNTIL, BagVersion
from recall_service.training.item_bag import MODEL, rated_rows
from recall_service.training.publish import publish_item_vectors

logger = logging.getLogger(__name__)

# Params a recall version's manifest gets from `publish_item_vectors`, not from its training.
_INDEX_PARAMS = ("metric", "index_metric")


class NotFineTunableError(MissingDataError):
    """The serving recall model is not one the online update can fine-tune."""


def _embeddings(version: BagVersion, settings: Settings, name: str) -> HistoryEmbeddings:
    """What serving makes user vectors and scores with, from `version`'s weights."""
    return HistoryEmbeddings(
        inputs=version.inputs,
        outputs=version.outputs,
        item_ids=version.item_ids,
        cap=version.params.history_cap,
        half_life=settings.item_bag.history_half_life,
        model=name,
    )


def _trained_until(manifest: ModelManifest, paths: StarlingPaths) -> int:
    """The serving version's TRAINED_UNTIL; a version trained before it was recorded learnt
    every rated row of the samples it read, of which only the train samples' are surely older
    than the samples now."""
    recorded = manifest.params.get(TRAINED_UNTIL)
    if recorded is not None:
        return int(recorded)
    train = rated_rows(paths, test=False)
    return int(times_ms(train).max()) if train.num_rows else 0


def _publish(
    paths: StarlingPaths,
    serving: ModelManifest,
    candidate: BagVersion,
    metrics: dict[str, float],
    split: BagUpdateSplit,
    settings: Settings,
) -> ModelManifest:
    params = {k: v for k, v in serving.params.items() if k not in _INDEX_PARAMS}
    params |= {
        TRAINED_UNTIL: split.trained_until_ms(),
        "fine_tuned_from": f"{serving.name}/{serving.version}",
        "online": settings.online.model_dump(),
    }
    return publish_item_vectors(
        paths,
        serving.name,
        candidate.item_ids,
        candidate.outputs,
        metrics,
        data_snapshot=fingerprint(paths.train_samples),
        params=params,
        write_model=candidate.write_files,
    )


def _metrics(window: WindowMetrics, run: BagRun, version: BagVersion) -> dict[str, float]:
    """The candidate manifest's metrics, its window figure prefixed (never taken for the
    held-out hit rate that `starling train recall` records)."""
    figures = {
        "window_users": float(window.rows),
        "train_loss": run.loss,
        "train_seconds": run.seconds,
        "item_item_seconds": run.item_item_seconds,
        "learnt_users": float(run.users),
        "replayed_users": float(run.replayed_users),
        "items": float(len(version.item_ids)),
    }
    if window.recall_at_50 is not None:
        figures["window_recall_at_50"] = window.recall_at_50
    return figures


def _split(
    settings: Settings, paths: StarlingPaths, registry: Registry, ref: ModelRef
) -> BagUpdateSplit:
    rated = rated_rows(paths)
    last = last_judged_ms(registry, ref)
    if last is not None and rated.num_rows and int(times_ms(rated).max()) <= last:
        raise NothingNewToLearnError(
            f"no rated rows newer than the window recall {ref.name} {ref.version} was last "
            "judged on"
        )
    online = settings.online
    return bag_update_split(
        rated,
        _trained_until(registry.manifest(ref), paths),
        online.window_fraction,
        online.min_window_rows,
    )


def learn_recall(
    settings: Settings, paths: StarlingPaths, say: Callable[[str], None] = logger.info
) -> LearnResult:
    """One online update of the serving item bag (see the module docstring)."""
    started = time.perf_counter()
    rebuilt = refresh_samples(settings, paths)
    registry = Registry(paths.registry)
    ref = pinned_serving(settings, registry, "recall")
    if ref.name != MODEL:
        raise NotFineTunableError(
            f"recall {ref.name} serves: the online update fine-tunes only {MODEL}"
        )
    split = _split(settings, paths, registry, ref)
    say(
        f"fine-tuning recall {ref.name} {ref.version} on {split.new_rows:,} new rated rows of "
        f"{len(split.learnt_users):,} users; judging on the newest {split.window.num_rows:,}"
    )
    serving = BagVersion.load(registry.path(ref))
    candidate, run = fine_tune_bag(settings, paths, serving, split)
    users = window_users(split.history, split.window)
    candidate_metrics = recall_window_metrics(_embeddings(candidate, settings, "candidate"), users)
    serving_metrics = recall_window_metrics(_embeddings(serving, settings, ref.version), users)
    verdict = judge_recall(candidate_metrics, serving_metrics, settings.online)
    manifest = registry.manifest(ref)
    published = _publish(
        paths, manifest, candidate, _metrics(candidate_metrics, run, candidate), split, settings
    )
    decision = Decision(
        kind="recall",
        action="promoted" if verdict.accepted else "refused",
        candidate=published.ref(),
        serving=ref,
        reasons=verdict.reasons,
        candidate_metrics=candidate_metrics,
        serving_metrics=serving_metrics,
        window=window_info(split.window, int(times_ms(split.window).max())),
    )
    return LearnResult(
        decision=carry_out(settings, decision),
        candidate=published,
        features_rebuilt=rebuilt,
        new_rows=split.new_rows,
        replayed_rows=run.replayed_users,
        seconds=time.perf_counter() - started,
    )
