from __future__ import annotations

from pathlib import Path

import pytest

from cluster.home_sources import SYNTH_STAMP, MixedSourcesError, check_not_mixing
from core.paths import StarlingPaths
from core.storage import OutputManifest, write_manifest


def _home(tmp_path: Path, synthetic: bool, events: int) -> StarlingPaths:
    paths = StarlingPaths(tmp_path / "home")
    paths.data_dir.mkdir(parents=True)
    if synthetic:
        (paths.data_dir / SYNTH_STAMP).write_text("{}")
    paths.events.mkdir(parents=True)
    write_manifest(paths.events, OutputManifest(step="ingest", inputs={}, rows={"events": events}))
    return paths


def test_a_users_data_is_refused_by_a_lake_of_the_synthetic_set(tmp_path: Path) -> None:
    paths = _home(tmp_path, synthetic=True, events=10)
    with pytest.raises(MixedSourcesError, match="--mix"):
        check_not_mixing(paths, tmp_path / "ml-latest-small", mix=False)
    check_not_mixing(paths, tmp_path / "ml-latest-small", mix=True)
    # The synthetic set itself may come in again (a later `up` with a bigger set, say).
    check_not_mixing(paths, paths.data_dir, mix=False)


def test_a_lake_of_a_users_own_sources_or_an_empty_one_takes_more(tmp_path: Path) -> None:
    check_not_mixing(_home(tmp_path / "a", synthetic=False, events=10), tmp_path / "x", mix=False)
    check_not_mixing(_home(tmp_path / "b", synthetic=True, events=0), tmp_path / "x", mix=False)
