from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cluster.online.rank_learn import _newest_rows_from
from rank_service.training.splits import TIME_COLUMN


def _folder(path: Path, times_ms: list[int]) -> Path:
    path.mkdir()
    column = pa.array(times_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({TIME_COLUMN: column}), path / "part-0.parquet")
    return path


def test_the_newest_rows_of_both_folders_begin_at_one_time(tmp_path: Path) -> None:
    train = _folder(tmp_path / "train", [1, 5, 9, 12])
    test = _folder(tmp_path / "test", [20, 30, 40])
    newer = pc.field(TIME_COLUMN).cast(pa.int64()) > 4

    assert _newest_rows_from([train, test], newer, 3) == 20
    assert _newest_rows_from([train, test], newer, 5) == 9
    assert _newest_rows_from([train, test], newer, 6) is None
