from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.paths import StarlingPaths
from core.settings import Settings
from core.tables import EVENTS
from ingest.job import ingest_movielens

pytestmark = pytest.mark.integration


def _home(tmp_path: Path) -> tuple[Settings, StarlingPaths]:
    settings = Settings(home=tmp_path / "home")
    return settings, StarlingPaths(settings.home)


def test_movielens_small_lands_whole_and_once(
    ray_local: None, movielens_small: Path, tmp_path: Path
) -> None:
    settings, paths = _home(tmp_path)
    first = ingest_movielens(settings, paths, movielens_small)
    assert (first.rows_read, first.accepted, first.lake_rows) == (100_836, 100_836, 100_836)
    assert first.items == 9_742
    events = pq.read_table(paths.events, schema=EVENTS)
    assert events.num_rows == 100_836
    assert len(set(events["user_id"].to_pylist())) == 610
    assert set(events["event_type"].to_pylist()) == {"rating"}

    again = ingest_movielens(settings, paths, movielens_small)
    assert again.skipped_files and again.lake_rows == 100_836


def test_bad_rows_are_quarantined_and_good_rows_land(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "ml"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action|Crime\n")
    (source / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,964982703\n"
        "2,1,7,964982703\n"
        "-3,1,3.0,964982703\n"
        "abc,1,3.0,964982703\n"
        "4,1,2.5,964982704\n"
    )
    settings, paths = _home(tmp_path)
    summary = ingest_movielens(settings, paths, source)
    assert summary.accepted == 2
    assert summary.quarantined == {
        "rating out of range": 1,
        "negative id": 1,
        "user id not an integer": 1,
    }
    quarantine = pq.read_table(paths.quarantine).to_pylist()
    assert {row["raw"] for row in quarantine} >= {"2,1,7,964982703", "abc,1,3.0,964982703"}

    # The same rows again under a new file name: nothing is added twice.
    shutil.copy(source / "ratings.csv", source / "ratings.bak")
    grown = (source / "ratings.bak").read_text() + "5,1,5.0,964982705\n"
    (source / "ratings.csv").write_text(grown)
    again = ingest_movielens(settings, paths, source)
    assert (again.accepted, again.duplicates, again.lake_rows) == (3, 2, 3)
