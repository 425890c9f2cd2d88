import json

import numpy as np
import pytest

from core.registry import MANIFEST, ModelManifest, Registry
from core.settings import RankSettings
from rank_service.artifacts import RankArtifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import build_model
from rank_service.serving.scorer import ITEM_COLUMNS
from rank_service.training.catalogue import _ndcg, _recall, catalogue_ndcg, ndcg_key
from rank_service.training.holdout import model_config, train_and_score
from rank_service.training.report import (
    CURVES_FILE,
    TRAINED_UNTIL,
    curves_from_history,
    publish_rank,
)
from rank_service.training.synthetic import synthetic_items, synthetic_samples

RANK = RankSettings(epochs=2, batch_size=64, lr=2e-2, hidden=[16], ndcg_users=20)


def test_ndcg_discounts_by_rank_and_skips_seen_items() -> None:
    catalogue = np.array([10, 11, 12, 13])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert _ndcg(scores, catalogue, set(), {10}, k=2) == 1.0
    assert _ndcg(scores, catalogue, set(), {11}, k=2) == pytest.approx(1 / np.log2(3))
    # Item 10, rated before, leaves the list: 11 moves to the top.
    assert _ndcg(scores, catalogue, {10}, {11}, k=2) == 1.0
    assert _ndcg(scores, catalogue, set(), {13}, k=2) == 0.0


def test_recall_counts_the_relevant_share_in_the_top_k_without_seen_items() -> None:
    catalogue = np.array([10, 11, 12, 13])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert _recall(scores, catalogue, set(), {10, 13}, k=2) == 0.5
    assert _recall(scores, catalogue, {10, 11}, {12, 13}, k=2) == 1.0


def test_catalogue_ndcg_scores_test_users_over_every_item() -> None:
    items = synthetic_items(80)
    train_rows = synthetic_samples(items, rows=800, seed=1, n_users=30, negatives=1)
    test = synthetic_samples(items, rows=200, seed=2, n_users=30, negatives=1)
    encoder = FeatureEncoder.fit(train_rows)
    config = model_config("din", RANK, encoder)
    artifacts = RankArtifacts(config=config, encoder=encoder, model=build_model(config).eval())
    catalogue = items.select(ITEM_COLUMNS)
    value = catalogue_ndcg(artifacts, catalogue, train_rows, test, users=10)
    assert value is not None and 0.0 <= value <= 1.0
    assert catalogue_ndcg(artifacts, catalogue, train_rows, test, users=0) is None


def test_holdout_reports_rated_negatives_and_catalogue_metrics_with_curves() -> None:
    items = synthetic_items(80)
    train_rows = synthetic_samples(items, rows=800, seed=1, n_users=30, negatives=1)
    test = synthetic_samples(items, rows=200, seed=2, n_users=30, negatives=1)
    result = train_and_score("mlp", train_rows, test, RANK, 0, items=items.select(ITEM_COLUMNS))
    assert {"roc_auc", "pr_auc", "log_loss", "accuracy", "negatives_roc_auc"} <= set(result.metrics)
    assert ndcg_key(10) == "ndcg_at_10" and 0.0 <= result.metrics["ndcg_at_10"] <= 1.0
    # Classification metrics and ROC points are over the 200 rated rows only.
    assert result.labels.size == 200
    assert len(result.curves["loss"]) == len(result.curves["val_roc_auc"]) == result.epochs_run


def test_a_published_ranker_carries_its_curves_and_their_png(tmp_path) -> None:
    items = synthetic_items(40)
    encoder = FeatureEncoder.fit(synthetic_samples(items, rows=100))
    config = model_config("mlp", RANK, encoder)
    artifacts = RankArtifacts(config=config, encoder=encoder, model=build_model(config))
    history = [
        {"epoch": 1, "loss": 0.7, "val_roc_auc": 0.6},
        {"epoch": 2, "loss": 0.5, "val_roc_auc": 0.7},
    ]
    curves = curves_from_history(history)
    assert curves == {"loss": [0.7, 0.5], "val_roc_auc": [0.6, 0.7]}
    registry = Registry(tmp_path)
    manifest = publish_rank(
        registry, RANK, artifacts, {"roc_auc": 0.7}, curves, "snap", {TRAINED_UNTIL: 1234}
    )
    assert registry.manifest(manifest.ref()).curves == curves
    # The newest sample it learnt, which the online update fine-tunes after, beside its settings.
    assert manifest.params[TRAINED_UNTIL] == 1234 and manifest.params["lr"] == RANK.lr
    folder = registry.path(manifest.ref())
    assert (folder / CURVES_FILE).read_bytes()[:4] == b"\x89PNG"
    # Manifests from before curves existed still load.
    old = json.loads((folder / MANIFEST).read_text())
    del old["curves"]
    assert ModelManifest.model_validate(old).curves == {}
