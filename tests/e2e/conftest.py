"""The app every e2e test talks to: one `starling up` on a small synthetic set per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.running_app import RunningApp
from tests.support.trained_home import small_home_template
from tests.support.up_process import started_app

WRITE_KEY = "e2e-write-key"
ADMIN_KEY = "e2e-admin-key"
# Two experiments side by side: one serves the trained ranker through the Rank pool's model
# multiplexing, the other gives half the users more MMR diversity.
EXPERIMENTS: list[dict[str, Any]] = [
    {
        "name": "ranker",
        "salt": "e2e",
        "variants": [
            {"name": "control", "weight": 1},
            {"name": "mlp_v1", "weight": 1, "rank_model": "mlp/v1"},
        ],
    },
    {
        "name": "diversity",
        "salt": "e2e-div",
        "variants": [
            {"name": "mmr", "weight": 1},
            {"name": "diverse", "weight": 1, "rerank": {"mmr_lambda": 0.5}},
        ],
    },
]


# Package-scoped (tests/e2e has an __init__.py for it): the app stops after the last e2e test
# instead of idling beside every integration and unit test that runs after it.
@pytest.fixture(scope="package")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    home = tmp_path_factory.mktemp("home")
    settings_env = {
        "STARLING_WRITE_API_KEYS": json.dumps([WRITE_KEY]),
        "STARLING_ADMIN_API_KEYS": json.dumps([ADMIN_KEY]),
        "STARLING_EXPERIMENTS": json.dumps(EXPERIMENTS),
    }
    with started_app(home, settings_env, small_home_template(tmp_path_factory)) as running:
        yield running
