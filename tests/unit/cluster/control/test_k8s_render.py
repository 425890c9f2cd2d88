"""`starling k8s render` keeps the RayService's serveConfigV2 equal to cluster/serve_config.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cluster.cli.main import main
from cluster.control.k8s_render import RAYSERVICE_MANIFEST, RenderError, replace_serve_config
from cluster.control.serve_config import DEFAULT_CONFIG


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    manifest = tmp_path / "rayservice.yaml"
    config = tmp_path / "serve_config.yaml"
    shutil.copy(RAYSERVICE_MANIFEST, manifest)
    shutil.copy(DEFAULT_CONFIG, config)
    return manifest, config


def _render(manifest: Path, config: Path, *flags: str) -> int:
    return main(["k8s", "render", "--manifest", str(manifest), "--config", str(config), *flags])


def _serve_config_of(manifest: Path) -> dict:
    return yaml.safe_load(yaml.safe_load(manifest.read_text())["spec"]["serveConfigV2"])


def test_checked_in_rayservice_matches_serve_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", "render", "--check"]) == 0, capsys.readouterr().err


def test_rendered_config_changes_only_the_home_and_http_address(copies) -> None:
    manifest, config = copies
    local = yaml.safe_load(config.read_text())
    rendered = _serve_config_of(manifest)
    assert rendered["applications"][0]["args"] == {"home": "/data/starling"}
    assert rendered["http_options"] == {**local["http_options"], "host": "0.0.0.0", "port": 8000}
    for document in (local, rendered):
        del document["http_options"]
        del document["applications"][0]["args"]
    assert rendered == local


def test_a_serve_config_edit_is_drift_until_rendered(copies, capsys) -> None:
    manifest, config = copies
    before = yaml.safe_load(manifest.read_text())
    local = yaml.safe_load(config.read_text())
    rank = next(d for d in local["applications"][0]["deployments"] if d["name"] == "Rank")
    rank["autoscaling_config"]["max_replicas"] = 3
    config.write_text(yaml.safe_dump(local, sort_keys=False))

    assert _render(manifest, config, "--check") == 1
    assert "serveConfigV2 differs" in capsys.readouterr().err
    assert yaml.safe_load(manifest.read_text()) == before, "--check writes nothing"

    assert _render(manifest, config) == 0
    assert _render(manifest, config, "--check") == 0
    after = yaml.safe_load(manifest.read_text())
    deployments = _serve_config_of(manifest)["applications"][0]["deployments"]
    rank = next(d for d in deployments if d["name"] == "Rank")
    assert rank["autoscaling_config"]["max_replicas"] == 3
    assert after["spec"]["rayClusterConfig"] == before["spec"]["rayClusterConfig"]
    assert "# Rendered from cluster/serve_config.yaml" in manifest.read_text()


def test_a_hand_edit_of_the_manifest_block_is_drift(copies) -> None:
    manifest, config = copies
    manifest.write_text(manifest.read_text().replace("max_replicas: 1", "max_replicas: 5", 1))
    assert _render(manifest, config, "--check") == 1


def test_a_serve_config_that_serve_would_refuse_is_an_error(copies, capsys) -> None:
    manifest, config = copies
    config.write_text(
        config.read_text().replace("max_ongoing_requests: 64", "max_ongoing_requests: -1", 1)
    )
    assert _render(manifest, config) == 1
    assert "not a valid Serve config" in capsys.readouterr().err


def test_block_replacement_keeps_the_keys_around_it() -> None:
    text = "spec:\n  serveConfigV2: |\n    old: 1\n\n    more: 2\n\n  next: true\n"
    assert replace_serve_config(text, "new: 3\nlist:\n- a\n") == (
        "spec:\n  serveConfigV2: |\n    new: 3\n    list:\n    - a\n\n  next: true\n"
    )
    with pytest.raises(RenderError):
        replace_serve_config("spec:\n  other: 1\n", "new: 3\n")
