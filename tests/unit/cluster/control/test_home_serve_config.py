"""Operators' changes live in the home: `scale` and `promote` write the home's copy of the serve
config, the next deploy of that home reads it, and the packaged file is never written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cluster.control.operations import promote, scale
from cluster.control.serve_config import (
    DEFAULT_CONFIG,
    PackagedConfigError,
    app_args,
    config_path,
    declarative_config,
    update_deployment,
)
from cluster.names import APP_NAME
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from tests.support.disk_full import fill_disk_half_way

PINNED = {"Recall": {"name": "item_bag", "version": "v1"}, "Rank": {"name": "mlp", "version": "v1"}}


def _deployment(settings: Settings, name: str) -> dict:
    config = declarative_config(settings, APP_NAME, PINNED)
    (app,) = [a for a in config.applications if a.name == APP_NAME]
    (entry,) = [d for d in app.deployments if d.name == name]
    return entry.model_dump(exclude_unset=True)


def test_a_scale_stays_in_its_home_and_leaves_the_package_alone(tmp_path: Path) -> None:
    packaged = DEFAULT_CONFIG.read_bytes()
    home, other = tmp_path / "home", tmp_path / "other"
    settings = Settings(home=home)
    assert config_path(settings) == DEFAULT_CONFIG

    scale(settings, "Rank", num_replicas=3)

    assert DEFAULT_CONFIG.read_bytes() == packaged
    assert config_path(settings) == home / "serve_config.yaml"
    # The next start of this home (a new process, new Settings) deploys the scale...
    again = Settings(home=home)
    assert _deployment(again, "Rank")["autoscaling_config"] == {
        "min_replicas": 3,
        "max_replicas": 3,
    }
    # ...and replicas, which find the home's copy themselves, are not pinned to a file.
    assert "serve_config" not in app_args(again)
    # Another home starts from the packaged file.
    fresh = _deployment(Settings(home=other), "Rank")
    assert fresh.get("autoscaling_config") != {"min_replicas": 3, "max_replicas": 3}
    assert not (other / "serve_config.yaml").exists()


def test_a_promotion_pins_the_version_in_the_home_only(tmp_path: Path) -> None:
    packaged = DEFAULT_CONFIG.read_bytes()
    settings = Settings(home=tmp_path)
    registry = Registry(StarlingPaths(tmp_path).registry)
    for _ in range(2):
        registry.publish(
            "rank",
            "mlp",
            write=lambda folder: (folder / "model.bin").write_bytes(b"x"),
            metrics={},
            data_snapshot="s",
        )

    promote(settings, "rank", "mlp", "v1")

    assert DEFAULT_CONFIG.read_bytes() == packaged
    assert _deployment(Settings(home=tmp_path), "Rank")["user_config"] == {
        "name": "mlp",
        "version": "v1",
    }


def test_an_explicit_serve_config_wins_over_the_home(tmp_path: Path) -> None:
    chosen = tmp_path / "ops" / "mine.yaml"
    settings = Settings(home=tmp_path / "home", serve_config=chosen)

    scale(settings, "Recall", num_replicas=2)

    assert config_path(settings) == chosen
    assert not (tmp_path / "home" / "serve_config.yaml").exists()
    assert _deployment(settings, "Recall")["autoscaling_config"]["max_replicas"] == 2
    assert app_args(settings)["serve_config"] == str(chosen.resolve())


def test_naming_the_packaged_file_still_keeps_changes_in_the_home(tmp_path: Path) -> None:
    packaged = DEFAULT_CONFIG.read_bytes()
    settings = Settings(home=tmp_path, serve_config=DEFAULT_CONFIG)

    scale(settings, "Rerank", num_replicas=2)

    assert DEFAULT_CONFIG.read_bytes() == packaged
    assert (tmp_path / "serve_config.yaml").is_file()
    with pytest.raises(PackagedConfigError):
        update_deployment(DEFAULT_CONFIG, APP_NAME, "Rank", {"max_replicas": 9})


def test_a_change_is_flushed_before_its_rename_and_its_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path)
    scale(settings, "Rank", num_replicas=2)
    disk: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd: int) -> None:
        disk.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def logged_replace(src: str | Path, dst: str | Path) -> None:
        disk.append(("rename", str(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    scale(settings, "Rank", num_replicas=3)
    (_, staged), rename, folder = disk
    assert staged.startswith(str(tmp_path / ".serve_config.yaml."))
    assert rename == ("rename", str(config_path(settings)))
    assert folder == ("fsync", str(tmp_path))


def test_a_change_that_fails_half_written_leaves_the_last_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path)
    scale(settings, "Rank", num_replicas=2)
    kept = config_path(settings).read_text()
    fill_disk_half_way(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        scale(settings, "Rank", num_replicas=4)
    assert config_path(settings).read_text() == kept
    assert yaml.safe_load(kept)["applications"]
    assert not list(tmp_path.glob("*.tmp"))
