from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.event_key import content_keys
from core.tables import EVENTS
from ingest.lake.chunks import plan_file
from ingest.lake.month_merge import first_of_each_id, merge_bucket, month_dir
from ingest.lake.sources.movielens_csv import plan_movielens_csv
from ingest.lake.stage_chunks import ChunkTask, stage_chunk
from ingest.lake.validate import EventRules

RULES = EventRules(now_ms=1_700_000_000_000)
JULY_2000 = 964982703
AUGUST_2000 = 967000000


def _stage(folder: Path, lines: list[str], staging: Path, buckets: int) -> None:
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(lines))
    for index, chunk in enumerate(plan_file(plan_movielens_csv(folder).files[0]).chunks):
        stage_chunk(ChunkTask(chunk=chunk, file=0, index=index), RULES, staging, buckets)


def _month(lake: Path, month: str) -> list[tuple[int, float]]:
    rows = pq.read_table(month_dir(lake, month), schema=EVENTS).to_pylist()
    return [(r["user_id"], r["value"]) for r in rows]


def test_a_merge_keeps_the_lake_row_of_a_repeated_event_and_only_rewrites_new_months(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old_rows = pa.table(
        {
            "event_id": content_keys(
                pa.array(["rating"]), np.array([1]), np.array([10]), np.array([JULY_2000 * 1000])
            ),
            "user_id": [1],
            "item_id": [10],
            "event_type": ["rating"],
            "value": [4.0],
            "ts": pa.array([JULY_2000 * 1000], pa.timestamp("ms", tz="UTC")),
            "source": ["before"],
        },
        schema=EVENTS,
    )
    month_dir(old, "2000-07").mkdir(parents=True)
    pq.write_table(old_rows, month_dir(old, "2000-07") / "a.parquet")
    staging = tmp_path / "staging"
    staging.mkdir()
    new.mkdir()
    lines = [
        f"1,10,2.0,{JULY_2000}\n",  # the same event as in the lake, with another rating
        f"2,10,3.0,{JULY_2000}\n",
        f"3,10,1.0,{AUGUST_2000}\n",  # staged files are ordered by month, line order kept
        f"2,10,5.0,{JULY_2000}\n",  # a repeat within the new rows: the first one stays
    ]
    _stage(tmp_path / "src", lines, staging, buckets=1)

    written = merge_bucket(0, staging, set(), old, new, "ratings")

    assert sorted(written["month"].to_pylist()) == ["2000-07", "2000-08"]
    assert _month(new, "2000-07") == [(1, 4.0), (2, 3.0)]
    assert _month(new, "2000-08") == [(3, 1.0)]
    assert merge_bucket(0, staging, {0}, old, tmp_path / "none", "ratings").num_rows == 0


def test_repeats_are_dropped_keeping_each_first_row_in_order() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    user, item = rng.integers(0, 20, n), rng.integers(0, 5, n)
    ts = JULY_2000 * 1000 + rng.integers(0, 30, n) * 1000
    table = pa.table(
        {
            "event_id": content_keys(pa.array(["rating"] * n), user, item, ts),
            "user_id": user,
            "item_id": item,
            "event_type": ["rating"] * n,
            "value": rng.integers(1, 11, n) / 2,  # repeats of an id differ in value
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            "source": ["ratings"] * n,
        },
        schema=EVENTS,
    )

    kept = first_of_each_id(table).to_pandas()

    seen: dict[tuple[int, int, int], int] = {}
    for row, key in enumerate(zip(user, item, ts, strict=True)):
        seen.setdefault(key, row)
    expected = table.take(pa.array(sorted(seen.values()))).to_pandas()
    assert len(kept) < n  # the case has repeats to drop
    assert kept.equals(expected)
