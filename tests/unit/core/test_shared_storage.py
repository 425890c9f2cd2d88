"""The commit protocol and the registry on a local folder and on a real S3 API (moto)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from core.filesystem import RemotePath, StoragePath, open_storage, read_parquet, write_parquet
from core.registry import MANIFEST, Registry
from core.storage import (
    VERSIONS,
    OutputManifest,
    atomic_dir,
    committed,
    fingerprint,
    read_manifest,
    write_manifest,
)


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> StoragePath:
    if request.param == "local":
        return tmp_path
    return request.getfixturevalue("s3_root")


def _commit(target: StoragePath, value: int) -> None:
    with atomic_dir(target) as tmp:
        write_parquet(pa.table({"value": [value]}), tmp / "part-0.parquet")
        write_manifest(tmp, OutputManifest(step="t", inputs={}, rows={"rows": value}))


def _value(target: StoragePath) -> int:
    return read_parquet(committed(target) / "part-0.parquet")["value"][0].as_py()


def test_readers_see_the_last_committed_version_until_the_next_commit_ends(
    root: StoragePath,
) -> None:
    target = root / "features"
    assert read_manifest(target) is None
    _commit(target, 1)
    first = fingerprint(target)
    with atomic_dir(target) as tmp:
        write_parquet(pa.table({"value": [2]}), tmp / "part-0.parquet")
        assert _value(target) == 1
        assert read_manifest(target).rows == {"rows": 1}  # type: ignore[union-attr]
        write_manifest(tmp, OutputManifest(step="t", inputs={}, rows={"rows": 2}))
        assert _value(target) == 1
    assert _value(target) == 2
    assert fingerprint(target) != first


def test_a_failed_commit_leaves_the_last_version_and_no_litter(root: StoragePath) -> None:
    target = root / "lake"
    _commit(target, 1)
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        write_parquet(pa.table({"value": [2]}), tmp / "part-0.parquet")
        raise RuntimeError("killed mid-write")
    assert _value(target) == 1
    if isinstance(target, RemotePath):
        assert len(list((target / VERSIONS).iterdir())) == 1
    else:
        assert [p.name for p in root.iterdir()] == ["lake"]


def test_a_first_commit_that_never_finished_is_not_read(s3_root: RemotePath) -> None:
    target = s3_root / "samples"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        write_parquet(pa.table({"value": [1]}), tmp / "part-0.parquet")
        write_parquet(pa.table({"value": [1]}), target / VERSIONS / "orphan" / "part-0.parquet")
        raise RuntimeError("killed")
    assert not committed(target).exists()
    assert read_manifest(target) is None


def test_old_versions_are_pruned_but_the_previous_one_is_kept(s3_root: RemotePath) -> None:
    target = s3_root / "stats"
    for value in (1, 2, 3):
        _commit(target, value)
    assert len(list((target / VERSIONS).iterdir())) == 2
    assert _value(target) == 3


def test_registry_versions_and_local_copies(root: StoragePath, tmp_path: Path) -> None:
    registry = Registry(root / "registry", cache=tmp_path / "cache")

    def write(weights: str) -> object:
        return lambda folder: (folder / "weights.txt").write_text(weights)

    first = registry.publish("rank", "mlp", write("a"), {"auc": 0.7}, data_snapshot="s1")
    second = registry.publish("rank", "mlp", write("b"), {"auc": 0.8}, data_snapshot="s2")
    assert (first.version, second.version) == ("v1", "v2")
    assert registry.versions("rank", "mlp") == ["v1", "v2"]
    assert registry.latest("rank", "mlp").metrics == {"auc": 0.8}  # type: ignore[union-attr]
    local = registry.path(first.ref())
    assert isinstance(local, Path)
    assert (local / "weights.txt").read_text() == "a"
    assert registry.serving("rank") == second.ref()
    registry.promote(first.ref())
    assert registry.serving("rank") == first.ref()


def test_a_registry_upload_without_its_manifest_is_invisible(s3_root: RemotePath) -> None:
    registry = Registry(s3_root / "registry")
    registry.publish("recall", "item2vec", lambda f: (f / "x").write_text("1"), {}, "s")
    (s3_root / "registry" / "recall" / "item2vec" / "v2" / "x").write_text("half")
    assert registry.versions("recall", "item2vec") == ["v1"]
    manifest = registry.publish("recall", "item2vec", lambda f: (f / "x").write_text("2"), {}, "s")
    assert manifest.version == "v2"
    assert (registry.path(manifest.ref()) / "x").read_text() == "2"
    assert (registry.path(manifest.ref()) / MANIFEST).is_file()


def test_a_folder_path_or_file_uri_is_a_local_path(tmp_path: Path) -> None:
    assert open_storage(str(tmp_path)) == tmp_path
    assert open_storage(f"file://{tmp_path}") == tmp_path
