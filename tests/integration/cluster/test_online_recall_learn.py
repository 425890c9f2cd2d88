"""`starling learn` updates the recall model too: the serving item bag, which has not learnt the
newest rated rows nor some items, is fine-tuned with Ray Train, grown to those items, judged by
Recall@50 on the held-out window, registered with its index and refitted item-item models, and
served only if the gate accepts it; `models list` shows the decision."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cluster.cli.main import main
from cluster.control.model_decisions import serving_ref
from cluster.control.serve_config import DEFAULT_CONFIG
from core.decisions import list_decisions
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from recall_service.index.files import ITEM_IDS
from recall_service.training.bag_version import TRAINED_UNTIL, BagVersion
from tests.support.older_bag import publish_older_bag
from tests.support.trained_home import SMALL_HOME, fill_small_home

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(
    ray_local: None,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    home = tmp_path_factory.mktemp("home")
    serve_config = home / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, serve_config)
    # The CLI builds its own Settings: these reach it through the environment.
    monkeypatch.setenv("STARLING_SERVE_CONFIG", str(serve_config))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("STARLING_ONLINE__RECALL_STEPS", "20")
    settings = Settings(**SMALL_HOME, home=home, redis_url=redis_url, serve_config=serve_config)
    fill_small_home(settings, tmp_path_factory)
    return settings


def test_learn_fine_tunes_the_item_bag_grows_it_and_records_the_gate_decision(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    older, lacking = publish_older_bag(settings)
    home = str(settings.home)
    # The ranker learnt every sample but the test split's: its update runs too.
    assert main(["learn", "--home", home, "--epochs", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"fine-tuning recall item_bag {older.version} on" in out
    registry = Registry(StarlingPaths.of(settings).registry)
    [decision] = list_decisions(registry.root, "recall")
    assert decision.serving == older.ref() and decision.action in {"promoted", "refused"}
    assert decision.reasons[0].startswith("Recall@50 ")
    assert decision.candidate_metrics is not None and decision.serving_metrics is not None
    assert decision.candidate_metrics.rows == decision.serving_metrics.rows > 0
    candidate = registry.manifest(decision.candidate)
    assert candidate.params["fine_tuned_from"] == f"item_bag/{older.version}"
    assert candidate.params[TRAINED_UNTIL] > registry.manifest(older.ref()).params[TRAINED_UNTIL]
    assert "window_recall_at_50" in candidate.metrics
    # The index holds the items the older version lacked.
    indexed = np.load(registry.path(decision.candidate) / ITEM_IDS)
    assert set(lacking.tolist()) <= set(indexed.tolist())
    assert len(indexed) == len(np.load(registry.path(older.ref()) / ITEM_IDS)) + len(lacking)
    # Refitted on the rows before the window, the item-item models cover those items too (a
    # grown bag alone leaves their rows empty until the next full training).
    version = BagVersion.load(registry.path(decision.candidate))
    rows = np.searchsorted(version.item_ids, lacking)
    assert version.item_cf is not None and (np.diff(version.item_cf.indptr)[rows] > 0).all()
    assert version.transitions is not None
    assert (np.diff(version.transitions.indptr)[rows] > 0).any()
    served = decision.candidate if decision.action == "promoted" else older.ref()
    assert serving_ref(settings, "recall") == served

    assert main(["models", "list", "--home", home]) == 0
    listing = capsys.readouterr().out
    line = f"recall item_bag {decision.candidate.version} {decision.action} (serving item_bag "
    assert line in listing and "window_recall_at_50=" in listing
