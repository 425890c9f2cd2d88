from __future__ import annotations

from pathlib import Path

import pytest

from core.registry import ModelNotFoundError, ModelRef, Registry


def _publish(registry: Registry, name: str, marker: str) -> str:
    def write(folder: Path) -> None:
        (folder / "model.txt").write_text(marker)

    return registry.publish("rank", name, write, {"auc": 0.7}, data_snapshot="abc").version


def test_versions_count_up_and_keep_their_files(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert [_publish(registry, "mlp", m) for m in ("a", "b", "c")] == ["v1", "v2", "v3"]
    ref = ModelRef(kind="rank", name="mlp", version="v2")
    assert (registry.path(ref) / "model.txt").read_text() == "b"
    assert registry.manifest(ref).metrics == {"auc": 0.7}
    assert registry.latest("rank", "mlp").version == "v3"  # type: ignore[union-attr]


def test_a_failed_write_leaves_no_version(tmp_path: Path) -> None:
    registry = Registry(tmp_path)

    def broken(_folder: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        registry.publish("rank", "mlp", broken, {}, data_snapshot="x")
    assert registry.versions("rank", "mlp") == []
    assert not any(p.name.startswith(".staging") for p in (tmp_path / "rank" / "mlp").iterdir())


def test_serving_is_the_newest_until_a_version_is_promoted(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert registry.serving("rank") is None
    _publish(registry, "mlp", "a")
    _publish(registry, "mlp", "b")
    assert registry.serving("rank") == ModelRef(kind="rank", name="mlp", version="v2")
    registry.promote(ModelRef(kind="rank", name="mlp", version="v1"))
    assert registry.serving("rank") == ModelRef(kind="rank", name="mlp", version="v1")
    with pytest.raises(ModelNotFoundError):
        registry.promote(ModelRef(kind="rank", name="mlp", version="v9"))


def test_a_local_version_is_flushed_before_the_rename_that_publishes_it(
    tmp_path: Path, disk_log: list[tuple[str, str]]
) -> None:
    registry = Registry(tmp_path)
    _publish(registry, "mlp", "a")
    folder = tmp_path / "rank" / "mlp"
    publish = disk_log.index(("rename", str(folder / "v1")))
    staging = next(Path(p) for kind, p in disk_log if Path(p).name.startswith(".staging"))
    before = disk_log[:publish]
    assert ("fsync", str(staging / "model.txt")) in before
    # The manifest lands in the staging folder, whose entries are flushed after it.
    manifest_in = before.index(("rename", str(staging / "manifest.json")))
    assert ("fsync", str(staging)) in before[manifest_in:]
    assert ("fsync", str(folder)) in disk_log[publish:]
