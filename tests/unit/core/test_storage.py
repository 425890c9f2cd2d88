from __future__ import annotations

from pathlib import Path

import pytest

from core.storage import (
    OutputManifest,
    atomic_dir,
    fingerprint,
    is_fresh,
    read_manifest,
    write_manifest,
)


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
