from __future__ import annotations

from pathlib import Path

import pytest

from core.storage import (
    OutputManifest,
    atomic_dir,
    fingerprint,
    is_fresh,
    read_manifest,
    write_json_atomic,
    write_manifest,
    write_text_atomic,
)
from tests.support.disk_full import fill_disk_half_way


def test_atomic_dir_replaces_the_target_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "a").write_text("2")
        raise ValueError("crash mid-write")
    assert (target / "a").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_freshness_follows_input_fingerprints(tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    inputs = {"source": fingerprint(source)}
    assert not is_fresh(out, inputs)
    write_manifest(out, OutputManifest(step="t", inputs=inputs, rows={"rows": 1}))
    assert is_fresh(out, inputs)
    assert read_manifest(out).rows == {"rows": 1}  # type: ignore[union-attr]
    source.write_text("a,b\n1,2\n3,4\n")
    assert not is_fresh(out, {"source": fingerprint(source)})


def test_a_local_commit_is_flushed_before_the_rename_that_publishes_it(
    tmp_path: Path, disk_log: list[tuple[str, str]]
) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b").write_text("2")
        (tmp / "a").write_text("1")
        staged = str(tmp)
    publish = disk_log.index(("rename", str(target)))
    flushed = {path for kind, path in disk_log[:publish] if kind == "fsync"}
    assert {f"{staged}/a", f"{staged}/sub/b", f"{staged}/sub", staged} <= flushed
    # The parent's entry for the new name is flushed after the rename, so the commit survives.
    assert ("fsync", str(tmp_path)) in disk_log[publish:]


def test_a_json_file_is_flushed_before_it_replaces_the_old_one(
    tmp_path: Path, disk_log: list[tuple[str, str]]
) -> None:
    target = tmp_path / "pointer.json"
    write_json_atomic(target, {"version": 1})
    publish = disk_log.index(("rename", str(target)))
    assert [kind for kind, _ in disk_log[:publish]] == ["fsync"]
    assert disk_log[publish + 1 :] == [("fsync", str(tmp_path))]


def test_a_text_file_cut_short_by_a_failed_write_leaves_the_old_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.yaml"
    write_text_atomic(target, "old: 1\n")
    fill_disk_half_way(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(target, "new: 2\n" * 100)
    assert target.read_text() == "old: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
