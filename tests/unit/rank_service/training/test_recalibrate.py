"""Recalibrating a fine-tuned ranker: its probabilities on the rows it is fitted on average to
their positive rate, its order of candidates stays, and the intercept travels with the version
into serving."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from core.feature_schema import RANK_FEATURES
from core.settings import RankSettings
from rank_service.artifacts import RankArtifacts, load_artifacts, save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import build_model
from rank_service.predict import predict
from rank_service.training.holdout import model_config
from rank_service.training.recalibrate import intercept, recalibrated
from tests.support.online_home import online_samples


def _artifacts(rows: pa.Table) -> RankArtifacts:
    encoder = FeatureEncoder.fit(rows)
    config = model_config("mlp", RankSettings(embedding_dim=4, hidden=[8]), encoder)
    torch.manual_seed(0)
    return RankArtifacts(config=config, encoder=encoder, model=build_model(config).eval())


def test_the_intercept_brings_the_mean_probability_to_the_positive_rate() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(1.5, 2.0, 5000)
    labels = (rng.random(5000) < 0.2).astype(np.float32)
    b = intercept(logits, labels)
    assert abs(np.mean(1 / (1 + np.exp(-(logits + b)))) - labels.mean()) < 1e-6
    assert b < 0  # the logits said ~0.75 on average
    assert intercept(logits, np.zeros(5000)) == 0.0
    assert intercept(logits, np.ones(5000)) == 0.0
    assert intercept(np.zeros(0), np.zeros(0)) == 0.0


def test_a_recalibrated_version_matches_the_rate_keeps_its_order_and_serves_it(tmp_path) -> None:
    _, old, new = online_samples()
    artifacts = _artifacts(old)
    # Rows where positives are rare: the untrained model's probabilities sit far above it.
    labels = new.column(RANK_FEATURES.label)
    rare = new.filter(pc.or_(pc.equal(labels, 0), pc.less(new.column("ts"), new.column("ts")[50])))
    rate = float(np.mean(rare.column(RANK_FEATURES.label).to_numpy(zero_copy_only=False)))
    before = predict(artifacts.model, artifacts.encoder, rare)
    assert abs(before.mean() / rate - 1) > 0.5

    fitted = recalibrated(artifacts, rare)
    after = predict(fitted.model, fitted.encoder, rare, logit_offset=fitted.config.logit_offset)
    assert abs(after.mean() / rate - 1) < 1e-3
    np.testing.assert_array_equal(
        np.argsort(after, kind="stable"), np.argsort(before, kind="stable")
    )

    # The intercept is part of the version: saved, loaded, and used by whatever scores with it.
    save_artifacts(tmp_path, fitted.config, fitted.encoder, fitted.model.state_dict())
    loaded = load_artifacts(tmp_path)
    assert loaded.config.logit_offset == fitted.config.logit_offset
    np.testing.assert_allclose(
        predict(loaded.model, loaded.encoder, rare, logit_offset=loaded.config.logit_offset),
        after,
        rtol=1e-6,
    )
