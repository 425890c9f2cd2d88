from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rank_service.parquet import count_rows, read_folder, read_sample


def _folder(tmp_path: Path) -> Path:
    for part in range(3):
        rows = list(range(part * 40, part * 40 + 40))
        table = pa.table({"row": rows, "label": [r % 2 for r in rows]})
        pq.write_table(table, tmp_path / f"part-{part}.parquet", row_group_size=7)
    return tmp_path


def test_a_folder_larger_than_the_cap_gives_a_sample_of_distinct_rows_in_order(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)

    sample = read_sample(folder, ["row"], max_rows=25, seed=3)

    rows = sample.column("row").to_pylist()
    assert sample.column_names == ["row"]
    assert len(rows) == 25 and rows == sorted(set(rows))
    # Drawn across the whole folder, not its first rows.
    assert rows[-1] >= 80
    assert read_sample(folder, ["row"], max_rows=25, seed=3).equals(sample)


def test_a_folder_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    sample = read_sample(_folder(tmp_path), ["row", "label"], max_rows=120, seed=0)

    assert sample.column("row").to_pylist() == list(range(120))


def test_a_sample_of_the_rows_matching_a_filter_draws_from_those_rows_only(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    old = pc.field("row") < 100

    sample = read_sample(folder, ["row"], max_rows=30, seed=1, where=old)

    rows = sample.column("row").to_pylist()
    assert len(rows) == 30 and max(rows) < 100
    assert count_rows(folder, ~old) == 20
    assert read_folder(folder, ["row"], where=~old).column("row").to_pylist() == list(
        range(100, 120)
    )
