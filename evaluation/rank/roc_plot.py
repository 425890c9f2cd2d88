"""ROC curves of several models on one test set, as a PNG."""

from __future__ import annotations

import numpy as np

from core.filesystem import StoragePath, write_png
from rank_service.training.metrics import roc_auc, roc_curve

# A curve of a million test rows would draw a million points; this many look the same.
_MAX_POINTS = 2000


def write_roc_png(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: StoragePath, title: str
) -> None:
    """One line per model (name -> (labels, probabilities)), AUC in the legend, chance diagonal."""
    import matplotlib

    # Agg renders without a display; chosen here, not at import, so importers keep their backend.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 6))
    for name, (labels, probs) in curves.items():
        fpr, tpr = roc_curve(labels, probs)
        keep = np.unique(np.linspace(0, fpr.size - 1, min(fpr.size, _MAX_POINTS)).astype(int))
        axes.plot(fpr[keep], tpr[keep], label=f"{name} (AUC {roc_auc(labels, probs):.4f})")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(figure, path)
    plt.close(figure)
