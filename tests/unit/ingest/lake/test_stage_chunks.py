"""Stage one's files: each bucket of months gets the chunk's rows of its months, month by month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from core.filesystem import open_input
from ingest.lake.chunks import Chunk
from ingest.lake.sources.spec import FileSpec
from ingest.lake.stage_chunks import ChunkTask, bucket_dir, stage_events
from ingest.lake.validate import MONTH, STAGED


def _events(months: np.ndarray) -> pa.Table:
    n = len(months)
    return pa.table(
        {
            "event_id": np.arange(n, dtype=np.int64),
            "user_id": np.arange(n, dtype=np.int64),
            "item_id": np.zeros(n, dtype=np.int64),
            "event_type": ["rating"] * n,
            "value": np.ones(n, dtype=np.float32),
            "ts": pa.array(np.zeros(n, dtype=np.int64), pa.timestamp("ms", tz="UTC")),
            MONTH: months.astype(np.int32),
        },
        schema=STAGED,
    )


def test_each_bucket_file_holds_its_months_in_order_with_line_order_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    months = rng.integers(360, 420, 5000)  # five years, in line order at random
    spec = FileSpec(path=tmp_path / "ratings.csv", format="delimited", mapping={})
    task = ChunkTask(chunk=Chunk(spec=spec, fields=("a", "b")), file=2, index=7)

    stage_events(_events(months), task, tmp_path, buckets=4)

    seen = []
    for bucket in range(4):
        with open_input(bucket_dir(tmp_path, bucket) / "f00002-c000007-p00000.arrow") as source:
            staged = pa.ipc.open_file(source).read_all()
        staged_months = staged[MONTH].to_numpy()
        lines = staged["user_id"].to_numpy()
        assert set(staged_months % 4) == {bucket}
        assert (np.diff(staged_months) >= 0).all()
        for month in np.unique(staged_months):
            assert (np.diff(lines[staged_months == month]) > 0).all()
        seen.extend(lines.tolist())
    assert sorted(seen) == list(range(len(months)))
