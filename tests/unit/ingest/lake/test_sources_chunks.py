from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.event_key import content_keys
from ingest.lake import chunks
from ingest.lake.chunks import line_offsets, plan_file
from ingest.lake.parse_chunk import FILE_ERROR, check_pieces
from ingest.lake.sources.event_log import EventLogOptions, plan_event_log
from ingest.lake.sources.movielens_100k import plan_movielens_100k
from ingest.lake.sources.movielens_csv import plan_movielens_csv
from ingest.lake.sources.movielens_dat import plan_movielens_dat
from ingest.lake.sources.spec import FileSpec
from ingest.lake.validate import REASON, EventRules

RULES = EventRules(now_ms=1_700_000_000_000)
HEADER = "userId,movieId,rating,timestamp\n"


def _ratings_spec(folder: Path, body: str, encoding: str = "utf-8") -> FileSpec:
    (folder / "movies.csv").write_text("movieId,title,genres\n")
    (folder / "ratings.csv").write_bytes(body.encode(encoding))
    return plan_movielens_csv(folder).files[0]


def _check(spec: FileSpec) -> pd.DataFrame:
    """Every chunk of the file checked, lines numbered as in the file."""
    plan = plan_file(spec)
    assert plan.error is None, plan.error
    results = [list(check_pieces(c, RULES)) for c in plan.chunks]
    offsets = line_offsets([sum(p.line_breaks for p in pieces) for pieces in results])
    frames = [pd.concat([p.rows.to_pandas() for p in pieces]) for pieces in results]
    for frame, offset in zip(frames, offsets, strict=True):
        frame["line"] += offset
    checked = pd.concat(frames, ignore_index=True)
    return checked.astype(object).where(checked.notna(), None)


def test_bad_lines_keep_their_real_line_numbers_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 64)
    good = [f"{u},10,4.0,964982703" for u in range(1, 40)]
    good[20] = "21,10,4.0"
    good[30] = "31,10,7,964982703"
    spec = _ratings_spec(tmp_path, HEADER + "\n".join(good) + "\n")
    assert len(plan_file(spec).chunks) > 5
    checked = _check(spec)
    bad = checked[checked[REASON].notna()]
    assert bad[["line", REASON, "raw"]].values.tolist() == [
        [22, "malformed line: 3 fields, expected 4", "21,10,4.0"],
        [32, "rating out of range", "31,10,7,964982703"],
    ]
    assert len(checked) == 39 and not checked[FILE_ERROR].any()


def test_quoted_fields_and_crlf_lines_parse(tmp_path: Path) -> None:
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n")
    (tmp_path / "ratings.csv").write_text(HEADER)
    (tmp_path / "tags.csv").write_text(
        'userId,movieId,tag,timestamp\r\n1,10,"dark, funny",964982703\r\n'
    )
    tags = plan_movielens_csv(tmp_path).files[1]
    checked = _check(tags)
    assert checked[REASON].isna().all() and len(checked) == 1


def test_unreadable_files_are_reported_with_a_reason(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    spec = _ratings_spec(wrong, HEADER + "1,10,4.0,964982703\n2,Amélie,4.0,1\n", "utf-16-le")
    assert "not utf-8 text" in (plan_file(spec).error or "")

    latin = tmp_path / "latin"
    latin.mkdir()
    spec = _ratings_spec(latin, HEADER + "1,10,4.0,964982703\n2,Amélie,4.0,1\n", "latin-1")
    checked = _check(spec)
    assert checked[FILE_ERROR].all()
    assert checked[REASON].iloc[0].startswith("unreadable file: not utf-8 text")

    missing = tmp_path / "missing"
    missing.mkdir()
    spec = _ratings_spec(missing, "userId,movieId,rating\n1,10,4.0\n")
    assert plan_file(spec).error == "missing columns timestamp"

    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan_file(_ratings_spec(empty, "")).error == "empty file"


def test_a_truncated_gzip_is_unreadable(tmp_path: Path) -> None:
    data = gzip.compress(("user,item,ts\n" + "1,2,964982703\n" * 5000).encode())
    path = tmp_path / "log.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    checked = _check(plan_event_log(path, EventLogOptions()))
    assert checked[FILE_ERROR].all()


def test_json_lines_and_parquet_logs(tmp_path: Path) -> None:
    options = EventLogOptions(mapping={"user": "uid", "type": "action"}, ts_unit="ms")
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text(
        '{"uid": 1, "item": 5, "ts": 964982703000, "action": "view"}\n'
        "not json\n"
        '{"uid": 2, "item": 5, "action": "click"}\n'
    )
    checked = _check(plan_event_log(jsonl, options))
    assert checked[[REASON, "line"]].values.tolist() == [
        [None, 1],
        ["malformed line: not a JSON object", 2],
        ["missing field", 3],
    ]
    assert checked["event_type"].iloc[0] == "view"

    parquet = tmp_path / "log.parquet"
    stamps = pa.array([964982703000, 964982704000], pa.timestamp("ms", tz="UTC"))
    table = pa.table({"uid": [1, -2], "item": [5, 6], "ts": stamps, "action": ["view"] * 2})
    pq.write_table(table, parquet)
    checked = _check(plan_event_log(parquet, options))
    assert checked[REASON].tolist() == [None, "negative id"]
    assert checked["ts_ms"].iloc[0] == 964982703000
    assert checked["line"].tolist() == [1, 2]


def test_dat_and_100k_ratings_parse_without_a_header(tmp_path: Path) -> None:
    dat = tmp_path / "dat"
    dat.mkdir()
    (dat / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3::978302109::x\n")
    checked = _check(plan_movielens_dat(dat).files[0])
    assert checked[["user_id", "item_id", "value", "line"]].values.tolist()[0] == [1, 1193, 5, 1]
    assert checked[REASON].tolist() == [None, "malformed line: 5 fields, expected 4"]

    small = tmp_path / "100k"
    small.mkdir()
    (small / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t6\t891717742\n")
    checked = _check(plan_movielens_100k(small).files[0])
    assert checked[REASON].tolist() == [None, "rating out of range"]
    key = content_keys(
        pa.array(["rating"]), np.array([196]), np.array([242]), np.array([881250949000])
    )
    assert checked["event_id"].iloc[0] == key[0]
