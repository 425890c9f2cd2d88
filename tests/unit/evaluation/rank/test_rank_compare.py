import json

import pyarrow.parquet as pq
import pytest

from core.paths import StarlingPaths
from core.settings import RankSettings, Settings
from evaluation.rank.compare import RankComparison, compare_rank_models
from rank_service.training.synthetic import (
    synthetic_items,
    synthetic_samples,
    write_item_features,
)


@pytest.fixture
def paths(tmp_path) -> StarlingPaths:
    paths = StarlingPaths(tmp_path)
    items = synthetic_items(100)
    write_item_features(paths, items)
    for folder, seed, rows in ((paths.train_samples, 0, 1500), (paths.test_samples, 1, 400)):
        folder.mkdir(parents=True)
        pq.write_table(synthetic_samples(items, rows=rows, seed=seed), folder / "part-0.parquet")
    return paths


def test_comparison_trains_the_models_and_the_baseline_and_writes_table_and_plot(
    paths: StarlingPaths,
) -> None:
    settings = Settings(
        home=paths.home, rank=RankSettings(epochs=2, batch_size=64, lr=1e-2, hidden=[16])
    )
    comparison = compare_rank_models(settings, paths, models=["mlp"], random_split=True)
    assert [r.model for r in comparison.rows] == ["logistic_regression", "mlp"]
    for row in comparison.rows:
        assert row.roc_auc > 0.65
        assert row.random_split_roc_auc is not None and row.random_split_roc_auc > 0.65
        assert 0 < row.accuracy <= 1 and row.log_loss > 0 and row.train_seconds > 0
    assert set(comparison.beats_baseline()) == {"mlp"}
    assert (comparison.train_rows, comparison.test_rows) == (1500, 400)
    saved = json.loads((paths.stats / "rank_comparison.json").read_text())
    assert RankComparison.model_validate(saved) == comparison
    assert (paths.stats / "rank_roc.png").read_bytes()[:4] == b"\x89PNG"
    lines = comparison.table().splitlines()
    assert len(lines) == 4 and "logistic_regression" in comparison.table()


def test_comparison_refuses_unknown_models(paths: StarlingPaths) -> None:
    with pytest.raises(ValueError, match="unknown rank models"):
        compare_rank_models(Settings(home=paths.home), paths, models=["nope"])
    assert not (paths.stats / "rank_comparison.json").exists()
