import numpy as np

from core.settings import RankSettings
from rank_service.encoding import FeatureEncoder
from rank_service.predict import predict
from rank_service.training.fit import EarlyStopping, fit_local, validation_score
from rank_service.training.holdout import model_config
from rank_service.training.splits import time_tail_split
from rank_service.training.synthetic import synthetic_items, synthetic_samples


def test_early_stopping_waits_patience_epochs_after_the_best() -> None:
    stopper = EarlyStopping(patience=2)
    decisions = []
    for epoch, score in enumerate([0.60, 0.70, 0.69, 0.71, 0.70, 0.65], start=1):
        improved = stopper.update(epoch, score)
        decisions.append((improved, stopper.should_stop(epoch)))
    assert decisions == [
        (True, False),
        (True, False),
        (False, False),
        (True, False),
        (False, False),
        (False, True),
    ]
    assert (stopper.best, stopper.best_epoch) == (0.71, 4)


def test_fit_local_is_reproducible_and_keeps_the_best_validation_epoch() -> None:
    samples = synthetic_samples(synthetic_items(100), rows=1200, seed=3)
    train, validation = time_tail_split(samples, 0.2)
    encoder = FeatureEncoder.fit(train)
    rank = RankSettings(epochs=4, patience=1, batch_size=64, lr=2e-2, hidden=[16])
    config = model_config("mlp", rank, encoder)
    first = fit_local(config, encoder, train, validation, rank, seed=5)
    second = fit_local(config, encoder, train, validation, rank, seed=5)
    probs = predict(first.model, encoder, validation)
    np.testing.assert_array_equal(probs, predict(second.model, encoder, validation))
    labels = validation.column("label").to_numpy()
    # The returned weights are the best epoch's, not the last one's.
    assert validation_score(labels, probs) == first.val_roc_auc
    assert 1 <= first.best_epoch <= first.epochs_run <= 4
    assert first.epochs_run == 4 or first.epochs_run == first.best_epoch + 1
    assert first.val_roc_auc > 0.65
