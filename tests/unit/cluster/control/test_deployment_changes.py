"""Admin changes made at the same time take turns instead of overwriting each other."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cluster.control import serve_config
from cluster.control.operations import promote, scale
from cluster.control.serve_config import DEFAULT_CONFIG, load_serve_config
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A home whose registry holds mlp v1 and v2, and a copy of the serve config."""
    registry = Registry(StarlingPaths(tmp_path).registry)
    for _ in range(2):
        registry.publish(
            "rank",
            "mlp",
            write=lambda folder: (folder / "model.bin").write_bytes(b"x"),
            metrics={},
            data_snapshot="s",
        )
    copy = tmp_path / "serve_config.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    return Settings(home=tmp_path, serve_config=copy)


def test_concurrent_scales_and_a_promotion_all_survive(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every write of the file reads it, then waits here before writing: without turns, each
    # change would read the file before the others wrote theirs.
    change = serve_config.change_deployment

    def slow_change(*args: Any) -> None:
        time.sleep(0.2)
        change(*args)

    monkeypatch.setattr(serve_config, "change_deployment", slow_change)
    changes: list[Callable[[], object]] = [
        lambda: promote(settings, "rank", "mlp", "v1"),
        lambda: scale(settings, "Rank", max_replicas=4),
        lambda: scale(settings, "Recall", num_replicas=3),
        lambda: scale(settings, "Rerank", num_replicas=2),
    ]
    start = threading.Barrier(len(changes))
    failures: list[BaseException] = []

    def run(change: Callable[[], object]) -> None:
        start.wait()
        try:
            change()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert settings.serve_config is not None
    app = load_serve_config(settings.serve_config).app("starling")
    bounds = {d.name: d.autoscaling_config for d in app.deployments}
    assert bounds["Rank"] == {"min_replicas": 1, "max_replicas": 4}
    assert bounds["Recall"] == {"min_replicas": 3, "max_replicas": 3}
    assert bounds["Rerank"] == {"min_replicas": 2, "max_replicas": 2}
    assert app.deployment("Rank").user_config == {"name": "mlp", "version": "v1"}
    assert Registry(StarlingPaths(settings.home).registry).serving("rank") == ModelRef(
        kind="rank", name="mlp", version="v1"
    )
