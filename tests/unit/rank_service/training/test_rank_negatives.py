import math

import numpy as np
import pyarrow.compute as pc
import torch
import torch.nn.functional as F

from core.settings import RankSettings
from rank_service.encoding import LABEL, FeatureEncoder
from rank_service.predict import predict
from rank_service.training.fit import fit_local
from rank_service.training.holdout import model_config
from rank_service.training.loss import LOGQ, NEGATIVE, LossSpec, split_batch, training_batch
from rank_service.training.metrics import evaluate
from rank_service.training.report import NEGATIVES_ROC_AUC, scored_test
from rank_service.training.splits import time_tail_split
from rank_service.training.synthetic import synthetic_items, synthetic_samples

RANK = RankSettings(epochs=3, patience=1, batch_size=64, lr=2e-2, hidden=[16])


def test_synthetic_negatives_follow_the_samples_contract() -> None:
    items = synthetic_items(60)
    plain = synthetic_samples(items, rows=200, seed=2)
    mixed = synthetic_samples(items, rows=200, seed=2, negatives=3)
    negative = mixed.column(NEGATIVE).to_numpy(zero_copy_only=False)
    assert mixed.num_rows == 800 and negative.sum() == 600
    negatives = mixed.filter(mixed.column(NEGATIVE))
    assert set(negatives.column("label").to_pylist()) == {0}
    assert negatives.column("rating").null_count == 600
    # Rated rows are the plain ones, now with log q of their item; time order is kept.
    rated = mixed.filter(pc.invert(mixed.column(NEGATIVE)))
    assert rated.drop_columns([LOGQ]).equals(plain.drop_columns([LOGQ]))
    assert float(pc.max(mixed.column(LOGQ)).as_py()) < 0.0
    assert np.all(np.diff(mixed.column("ts").cast("int64").to_numpy()) >= 0)
    # One q per item, summing to one over the catalogue.
    q = dict(zip(mixed.column("item_id").to_pylist(), np.exp(mixed.column(LOGQ)), strict=True))
    assert len(q) == 60 and math.isclose(sum(q.values()), 1.0, rel_tol=1e-4)
    assert set(plain.column(LOGQ).to_pylist()) == {0.0}


def test_the_logq_loss_lowers_sampled_negatives_logits_by_log_v_q() -> None:
    logits = torch.tensor([0.5, -1.0, 2.0, 0.0])
    extra = {
        LABEL: torch.tensor([1.0, 0.0, 0.0, 0.0]),
        NEGATIVE: torch.tensor([0.0, 0.0, 1.0, 1.0]),
        LOGQ: torch.tensor([-1.0, -2.0, -3.0, -6.0]),
    }
    log_v = math.log(50)
    corrected = logits - torch.tensor([0.0, 0.0, -3.0 + log_v, -6.0 + log_v])
    expected = F.binary_cross_entropy_with_logits(corrected, extra[LABEL], reduction="sum")
    logq = LossSpec(kind="bce_logq", log_items=log_v)(logits, extra)
    bce = LossSpec(kind="bce", log_items=log_v)(logits, extra)
    torch.testing.assert_close(logq, expected)
    torch.testing.assert_close(
        bce, F.binary_cross_entropy_with_logits(logits, extra[LABEL], reduction="sum")
    )
    assert not torch.isclose(logq, bce)
    # A popular item (V q > 1) is penalised less than under plain BCE, a rare one more.
    popular = {LABEL: torch.zeros(1), NEGATIVE: torch.ones(1), LOGQ: torch.tensor([-1.0])}
    rare = {LABEL: torch.zeros(1), NEGATIVE: torch.ones(1), LOGQ: torch.tensor([-8.0])}
    zero = torch.zeros(1)
    spec = LossSpec(kind="bce_logq", log_items=log_v)
    assert spec(zero, popular) < LossSpec()(zero, popular) < spec(zero, rare)
    # Rated rows only: both losses are the same number.
    rated = {k: v[:2] for k, v in extra.items()}
    assert LossSpec(kind="bce_logq", log_items=log_v)(logits[:2], rated) == LossSpec()(
        logits[:2], rated
    )


def test_training_only_columns_never_reach_the_model() -> None:
    samples = synthetic_samples(synthetic_items(40), rows=100, negatives=1)
    encoder = FeatureEncoder.fit(samples)
    inputs, extra = split_batch(training_batch(encoder, samples))
    assert set(extra) == {LABEL, NEGATIVE, LOGQ}
    assert set(inputs) == set(encoder.encode(samples.drop_columns([NEGATIVE, LOGQ]))) - {LABEL}
    assert extra[NEGATIVE].dtype == torch.float32 and extra[NEGATIVE].sum() == 100


def _fit(samples, loss: str):
    train, validation = time_tail_split(samples, 0.2)
    encoder = FeatureEncoder.fit(train)
    rank = RANK.model_copy(update={"loss": loss})
    return encoder, fit_local(
        model_config("mlp", rank, encoder), encoder, train, validation, rank, 5
    )


def test_a_model_trained_with_negatives_separates_positives_from_them() -> None:
    items = synthetic_items(100)
    test = synthetic_samples(items, rows=600, seed=9, negatives=2)
    for loss in ("bce", "bce_logq"):
        encoder, fitted = _fit(synthetic_samples(items, rows=1500, seed=3, negatives=2), loss)
        metrics, labels, probs = scored_test(fitted.model, encoder, test)
        assert metrics[NEGATIVES_ROC_AUC] > 0.65, (loss, metrics)
        assert metrics["roc_auc"] > 0.6
        assert labels.size == 600 and probs.size == 600
        assert len(fitted.losses) == len(fitted.val_scores) == fitted.epochs_run


def test_without_negatives_both_losses_train_the_same_model_as_before() -> None:
    items = synthetic_items(100)
    samples = synthetic_samples(items, rows=1200, seed=3)
    test = synthetic_samples(items, rows=300, seed=4)
    encoder, plain = _fit(samples, "bce")
    _, logq = _fit(samples, "bce_logq")
    # Tables from before the contract, without the training-only columns, train alike too.
    _, legacy = _fit(samples.drop_columns([NEGATIVE, LOGQ]), "bce_logq")
    probs = predict(plain.model, encoder, test)
    np.testing.assert_array_equal(probs, predict(logq.model, encoder, test))
    np.testing.assert_array_equal(probs, predict(legacy.model, encoder, test))
    metrics, _, _ = scored_test(plain.model, encoder, test)
    assert metrics == evaluate(test.column("label").to_numpy(), probs)
    assert NEGATIVES_ROC_AUC not in metrics
