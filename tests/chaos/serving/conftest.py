"""The app the chaos tests of serving break: `starling up` on a small synthetic set with two
replicas of every deployment that serves requests, so that the loss of any one leaves one
serving. Package-scoped: it stops before the other chaos tests run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from cluster.control.serve_config import DEFAULT_CONFIG
from tests.support.running_app import RunningApp
from tests.support.trained_home import small_home_template
from tests.support.up_process import started_app

WRITE_KEY = "chaos-write-key"
ADMIN_KEY = "chaos-admin-key"
SERVING = ("Gateway", "Recall", "Rank", "Rerank")


@pytest.fixture(scope="package")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    home = tmp_path_factory.mktemp("home")
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] in SERVING:
            deployment["autoscaling_config"] = {"min_replicas": 2, "max_replicas": 2}
    serve_config = home / "serve_config.yaml"
    serve_config.write_text(yaml.safe_dump(config, sort_keys=False))
    settings_env = {
        "STARLING_WRITE_API_KEYS": json.dumps([WRITE_KEY]),
        "STARLING_ADMIN_API_KEYS": json.dumps([ADMIN_KEY]),
        "STARLING_SERVE_CONFIG": str(serve_config),
    }
    with started_app(home, settings_env, small_home_template(tmp_path_factory)) as running:
        yield running
