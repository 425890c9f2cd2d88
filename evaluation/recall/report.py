"""The result of an offline recall evaluation: a table for people, JSON and a PNG plot."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.filesystem import StoragePath, write_png
from core.storage import write_json_atomic

_TABLE_METRICS = ("recall", "ndcg", "hit_rate", "coverage")

MethodKind = Literal["route", "merged", "baseline", "pipeline"]
# "global": the last share of time is held out; "per-user": each user's last share of ratings.
SplitKind = Literal["global", "per-user"]


class MethodMetrics(BaseModel):
    """One candidate generator's metrics, keyed like "recall@10"."""

    name: str
    kind: MethodKind
    metrics: dict[str, float]
    warm_metrics: dict[str, float] = Field(
        default_factory=dict, description="the same, over users who had rated before the cutoff"
    )
    cold_metrics: dict[str, float] = Field(
        default_factory=dict, description="the same, over users with no rating before it"
    )
    users_with_candidates: int = Field(description="test users it proposed anything to")


class RecallEvaluation(BaseModel):
    """Every route alone, the merged set and the baselines, on the same test users."""

    model: str = Field(description="the embedding model version used, e.g. item2vec:v1")
    split: SplitKind = "global"
    users: int = Field(description="test users with at least one unseen positive")
    cold_users: int = Field(description="of those, users with no rating in the training part")
    positives: int = Field(0, description="the test users' unseen positives, all together")
    positives_seen_in_training: int | None = Field(
        None,
        description="per-user split: test positives rated before the cutoff the evaluated "
        "models were trained up to, so the models have seen them",
    )
    catalog_items: int = Field(
        description="items the cutoff features list: the catalog and any rated item it lacks"
    )
    popularity_half_life_days: float
    ks: list[int]
    methods: list[MethodMetrics]

    def method(self, name: str) -> MethodMetrics:
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(name)

    def to_table(self) -> str:
        """Fixed-width tables, one row per method, one column per metric and k: all test users,
        then warm and cold users apart when there are both; a caveat when the models saw test
        positives."""
        warm = self.users - self.cold_users
        parts = [
            f"recall evaluation of {self.model} on the {self.split} split: {self.users} test "
            f"users ({warm} warm, {self.cold_users} cold), {self.positives} positives, "
            f"{self.catalog_items} catalog items\n"
            + self._table({m.name: m.metrics for m in self.methods})
        ]
        if warm and self.cold_users:
            parts += [
                f"warm users only ({warm}):\n"
                + self._table({m.name: m.warm_metrics for m in self.methods}),
                f"cold users only ({self.cold_users}):\n"
                + self._table({m.name: m.cold_metrics for m in self.methods}),
            ]
        return "\n\n".join([*parts, *self._ratios(), *self._caveat()])

    def _caveat(self) -> list[str]:
        if not self.positives_seen_in_training:
            return []
        return [
            f"caveat: the models were trained on the time split's first part, which holds "
            f"{self.positives_seen_in_training} of these {self.positives} test positives: "
            "on this split their numbers are optimistic (bench/quality.py trains on the "
            "per-user training part instead)"
        ]

    def _ratios(self) -> list[str]:
        """The pipeline against each baseline, and the merge against the best route alone."""
        lines = []
        k_mid, k_top, k_max = self.ks[len(self.ks) // 2], self.ks[0], self.ks[-1]
        for pipeline in (m for m in self.methods if m.kind == "pipeline"):
            for baseline in (m for m in self.methods if m.kind == "baseline"):
                cells = [
                    _ratio(pipeline.metrics, baseline.metrics, f"recall@{k_mid}"),
                    _ratio(pipeline.metrics, baseline.metrics, f"ndcg@{k_top}"),
                ]
                lines.append(f"{pipeline.name} / {baseline.name}: " + ", ".join(cells))
        routes = [m for m in self.methods if m.kind == "route"]
        key = f"recall@{k_max}"
        for merged in (m for m in self.methods if m.kind == "merged"):
            if routes:
                best = max(routes, key=lambda m: m.metrics.get(key, 0.0))
                lines.append(
                    f"{merged.name} / best route ({best.name}): "
                    + _ratio(merged.metrics, best.metrics, key)
                )
        return ["\n".join(lines)] if lines else []

    def _table(self, rows: dict[str, dict[str, float]]) -> str:
        columns = [f"{m}@{k}" for m in _TABLE_METRICS for k in self.ks]
        name_width = max(len("method"), *(len(name) for name in rows))
        widths = [max(len(c), 6) for c in columns]
        cells = [c.rjust(w) for c, w in zip(columns, widths, strict=True)]
        header = "  ".join(["method".ljust(name_width), *cells])
        lines = [header, "-" * len(header)]
        for name, metrics in rows.items():
            cells = [
                f"{metrics.get(c, float('nan')):.4f}".rjust(w)
                for c, w in zip(columns, widths, strict=True)
            ]
            lines.append("  ".join([name.ljust(name_width), *cells]))
        return "\n".join(lines)

    def save(self, folder: StoragePath) -> tuple[StoragePath, StoragePath]:
        """recall_eval.json and recall_eval.png into `folder`; returns both paths."""
        folder.mkdir(parents=True, exist_ok=True)
        json_path, png_path = folder / "recall_eval.json", folder / "recall_eval.png"
        write_json_atomic(json_path, self.model_dump(mode="json"))
        _plot(self, png_path)
        return json_path, png_path


def _ratio(top: dict[str, float], bottom: dict[str, float], key: str) -> str:
    below = bottom.get(key, 0.0)
    ratio = f"x{top.get(key, 0.0) / below:.3f}" if below > 0 else "n/a"
    return f"{key} {top.get(key, 0.0):.4f} vs {below:.4f} ({ratio})"


def _plot(evaluation: RecallEvaluation, path: StoragePath) -> None:
    """Grouped bars: recall, NDCG and hit rate at each k, one bar per method."""
    import matplotlib

    # Agg renders without a display; chosen here, not at import, so importers keep their backend.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("recall", "ndcg", "hit_rate")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4.5), sharey=False)
    width = 0.8 / max(len(evaluation.methods), 1)
    positions = range(len(evaluation.ks))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, method in enumerate(evaluation.methods):
            values = [method.metrics.get(f"{metric}@{k}", 0.0) for k in evaluation.ks]
            ax.bar([p + i * width for p in positions], values, width, label=method.name)
        ax.set_xticks([p + 0.4 - width / 2 for p in positions])
        ax.set_xticklabels([f"@{k}" for k in evaluation.ks])
        ax.set_title(metric.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Recall routes vs baselines ({evaluation.model}, {evaluation.users} users)")
    fig.tight_layout()
    write_png(fig, path)
    plt.close(fig)
