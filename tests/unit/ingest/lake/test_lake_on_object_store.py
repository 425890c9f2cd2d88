"""Lake commits without Ray on a local folder and on a real S3 API (moto)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.event_key import text_keys
from core.filesystem import RemotePath, StoragePath, read_parquet
from core.storage import committed, read_manifest, write_manifest
from ingest.lake.versions import (
    OldLakeError,
    check_format,
    commit_event_rows,
    count_rows,
    recover,
    staging_dir,
)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> StoragePath:
    root = tmp_path if request.param == "local" else request.getfixturevalue("s3_root")
    return root / "lake" / "events"


def _events(ids: list[str], days: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": text_keys(ids),
            "user_id": [1] * len(ids),
            "item_id": list(range(len(ids))),
            "event_type": ["rating"] * len(ids),
            "value": [4.0] * len(ids),
            "ts": pd.to_datetime(days, utc=True),
            "source": ["test"] * len(ids),
        }
    )


def test_batches_merge_by_month_and_duplicates_land_once(lake: StoragePath) -> None:
    assert commit_event_rows(_events(["a", "b"], ["2020-01-05", "2020-02-05"]), lake) == (2, 2)
    assert commit_event_rows(_events(["b", "c"], ["2020-02-05", "2020-02-06"]), lake) == (3, 1)
    months = sorted(p.name for p in committed(lake).iterdir() if p.is_dir())
    assert months == ["month=2020-01", "month=2020-02"]
    # January was not touched by the second batch: it was carried over from the last version.
    january = read_parquet(committed(lake) / "month=2020-01")
    assert january["event_id"].to_pylist() == list(text_keys(["a"]))
    assert count_rows(lake) == 3


def test_recovery_removes_staging_and_keeps_the_committed_lake(lake: StoragePath) -> None:
    commit_event_rows(_events(["a"], ["2020-01-05"]), lake)
    staging = staging_dir(lake, "killed")
    staging.mkdir(parents=True)
    (staging / "bucket-00000").mkdir()
    (staging / "bucket-00000" / "f00000-c000000.arrow").write_bytes(b"partial")
    recover(lake)
    assert not staging.exists()
    assert count_rows(lake) == 1
    if isinstance(lake, RemotePath):
        assert len(list((lake / "_versions").iterdir())) == 1


def test_a_lake_written_with_text_event_ids_is_refused_with_what_to_do(lake: StoragePath) -> None:
    commit_event_rows(_events(["a"], ["2020-01-05"]), lake)
    check_format(lake)
    manifest = read_manifest(lake)
    assert manifest is not None
    # What a lake of an earlier version holds: no event id format in its manifest.
    write_manifest(committed(lake), manifest.model_copy(update={"extra": {"sources": {}}}))
    with pytest.raises(OldLakeError, match="earlier Starling"):
        check_format(lake)
