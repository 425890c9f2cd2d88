"""The app's Learner runs the online update on its own, every STARLING_ONLINE__INTERVAL seconds:
deployed with a short interval on a small trained home whose ranker has not learnt the test
samples, it fine-tunes, judges and records a decision with nobody running `starling learn`.
The test ends with the first round: a second one (it learns the same window again) would only
double the module's minute and a half."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from ray import serve

from cluster.app.learner import LearnerStatus
from cluster.control.deploy import deploy
from cluster.control.serve_config import DEFAULT_CONFIG
from cluster.names import APP_NAME
from core.decisions import list_decisions
from core.online_settings import OnlineSettings
from core.paths import StarlingPaths
from core.settings import Settings
from tests.integration.conftest import free_port
from tests.support.trained_home import SMALL_HOME, fill_small_home

pytestmark = pytest.mark.integration

INTERVAL_S = 10.0
# A round rebuilds nothing here, but fine-tunes with Ray Train beside the app on two loaded
# cores: minutes, not seconds.
ROUND_TIMEOUT_S = 420.0


@pytest.fixture(scope="module")
def settings(ray_local: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("home")
    serve_config = home / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, serve_config)
    settings = Settings(
        **SMALL_HOME,
        home=home,
        redis_url=redis_url,
        http_port=free_port(),
        serve_config=serve_config,
        online=OnlineSettings(interval=INTERVAL_S, epochs=1, recall_steps=10),
    )
    fill_small_home(settings, tmp_path_factory)
    return settings


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    yield deploy(settings)
    serve.shutdown()


def _status() -> LearnerStatus:
    handle = serve.get_deployment_handle("Learner", APP_NAME)
    return handle.status.remote().result(timeout_s=30)


def test_the_learner_runs_the_update_at_its_interval_and_records_a_decision(
    settings: Settings, url: str
) -> None:
    assert _status().interval_s == INTERVAL_S
    registry = StarlingPaths.of(settings).registry
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while not list_decisions(registry, "rank") and time.monotonic() < deadline:
        time.sleep(2)
    [decision] = list_decisions(registry, "rank")
    assert decision.action in {"promoted", "refused"}
    assert decision.candidate.version == "v2" and decision.serving is not None
    assert decision.reasons[0].startswith("ROC AUC ")
    # The status is set when the round ends, just after the decision is written.
    while _status().rounds == 0 and time.monotonic() < deadline:
        time.sleep(1)
    status = _status()
    assert status.last_error is None and status.last_started is not None
    assert [d.candidate for d in status.last_decisions] == [decision.candidate]
    # The item bag learnt every rated row when it was trained: nothing new for it.
    assert "recall" in status.last_skipped
