"""What a trained ranker reports: test metrics with and without sampled negatives, and its
training curves as a PNG beside the version."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from core.feature_schema import RANK_FEATURES
from core.filesystem import write_png
from core.registry import ModelManifest, Registry
from core.settings import RankSettings
from rank_service.artifacts import RankArtifacts, save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModel
from rank_service.predict import predict
from rank_service.training.loss import NEGATIVE
from rank_service.training.metrics import evaluate, roc_auc

logger = logging.getLogger(__name__)

CURVES_FILE = "curves.png"
# The params key of the newest sample time (ms since the epoch) a version learnt from: the online
# update fine-tunes on what came after it.
TRAINED_UNTIL = "trained_until_ms"
# The metric names of positives against sampled negatives, and of the per-epoch curves.
NEGATIVES_ROC_AUC = "negatives_roc_auc"
LOSS_CURVE = "loss"
VALIDATION_CURVE = "val_roc_auc"


def scored_test(
    model: RankModel, encoder: FeatureEncoder, test: pa.Table
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """(metrics, labels, probabilities) of the rated test rows; sampled negatives are scored
    too, for `negatives_roc_auc` alone.

    `roc_auc`, `pr_auc`, `log_loss` and `accuracy` are over rated rows only, the figures from
    before sampled negatives existed. `negatives_roc_auc` ranks positives against the sampled
    negatives (rated negatives left out); it is absent when the test rows have none.
    """
    probs = predict(model, encoder, test)
    labels = test.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False).astype(np.float64)
    if NEGATIVE in test.column_names:
        negative = test.column(NEGATIVE).to_numpy(zero_copy_only=False).astype(bool)
    else:
        negative = np.zeros(test.num_rows, dtype=bool)
    metrics = evaluate(labels[~negative], probs[~negative])
    if negative.any():
        versus = negative | ((labels == 1) & ~negative)
        try:
            metrics[NEGATIVES_ROC_AUC] = roc_auc(labels[versus], probs[versus])
        except ValueError as error:
            logger.warning("%s skipped: %s", NEGATIVES_ROC_AUC, error)
    return metrics, labels[~negative], probs[~negative]


def write_curves_png(curves: dict[str, list[float]], path: Path, title: str) -> None:
    """The training loss and the validation AUC per epoch, side by side."""
    import matplotlib

    # Agg renders without a display; chosen here, not at import, so importers keep their backend.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key, label in (
        (axes[0], LOSS_CURVE, "training loss"),
        (axes[1], VALIDATION_CURVE, "validation ROC AUC"),
    ):
        values = curves.get(key, [])
        axis.plot(range(1, len(values) + 1), values, marker="o")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    write_png(figure, path)
    plt.close(figure)


def curves_from_history(history: list[dict[str, float]]) -> dict[str, list[float]]:
    """Training loss and validation AUC per epoch from the metrics each epoch reported."""
    return {
        LOSS_CURVE: [float(m["loss"]) for m in history],
        VALIDATION_CURVE: [float(m["val_roc_auc"]) for m in history],
    }


def publish_rank(
    registry: Registry,
    rank: RankSettings,
    artifacts: RankArtifacts,
    metrics: dict[str, float],
    curves: dict[str, list[float]],
    data_snapshot: str,
    extra_params: dict[str, Any] | None = None,
) -> ModelManifest:
    """Register a trained ranker: its files, `curves.png`, and a manifest with the curves; its
    params are `rank`'s with `extra_params` (such as TRAINED_UNTIL) added."""

    def write(folder: Path) -> None:
        save_artifacts(folder, artifacts.config, artifacts.encoder, artifacts.model.state_dict())
        write_curves_png(curves, folder / CURVES_FILE, f"rank {rank.model} ({rank.loss})")

    return registry.publish(
        "rank",
        rank.model,
        write=write,
        metrics=metrics,
        data_snapshot=data_snapshot,
        params={**rank.model_dump(), **(extra_params or {})},
        feature_schema_hash=RANK_FEATURES.hash(),
        curves=curves,
    )
