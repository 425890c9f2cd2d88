from __future__ import annotations

from pathlib import Path

import pytest

from ingest.lake.sources.detect import detect_source
from ingest.lake.sources.event_log import EventLogOptions, parse_mapping
from ingest.lake.sources.spec import SourceError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def test_csv_release_reads_ratings_tags_and_catalog(tmp_path: Path) -> None:
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n")
    _write(tmp_path / "tags.csv", "userId,movieId,tag,timestamp\n")
    _write(tmp_path / "movies.csv", 'movieId,title,genres\n1,"Heat, The (1995)",Action|Crime\n')
    plan = detect_source(tmp_path)
    assert plan.kind == "movielens-csv"
    assert [(f.path.name, f.event_type) for f in plan.files] == [
        ("ratings.csv", "rating"),
        ("tags.csv", "tag"),
    ]
    assert plan.read_items is not None
    item = plan.read_items().to_pylist()[0]
    assert (item["title"], item["genres"], item["year"]) == (
        "Heat, The (1995)",
        ["Action", "Crime"],
        1995,
    )


def test_dat_release_reads_latin1_movies(tmp_path: Path) -> None:
    _write(tmp_path / "ratings.dat", "1::1193::5::978300760\n")
    _write(tmp_path / "movies.dat", "1::Amélie (2001)::Comedy|Romance\n", "latin-1")
    _write(tmp_path / "users.dat", "1::F::1::10::48067\n")
    plan = detect_source(tmp_path)
    assert plan.kind == "movielens-dat"
    assert plan.files[0].delimiter == "::" and not plan.files[0].header
    assert plan.notes == ["users.dat is not ingested (no user table)"]
    assert plan.read_items is not None
    item = plan.read_items().to_pylist()[0]
    assert (item["title"], item["genres"], item["year"]) == (
        "Amélie (2001)",
        ["Comedy", "Romance"],
        2001,
    )


def test_100k_release_reads_genre_flags_and_release_dates(tmp_path: Path) -> None:
    _write(tmp_path / "u.data", "196\t242\t3\t881250949\n")
    flags = ["0"] * 19
    flags[1] = flags[5] = "1"
    _write(
        tmp_path / "u.item",
        "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n"
        "2|Café Society|05-Oct-1997||http://y|" + "|".join(["0"] * 18 + ["1"]) + "\n",
        "latin-1",
    )
    plan = detect_source(tmp_path)
    assert plan.kind == "movielens-100k" and plan.files[0].delimiter == "\t"
    assert plan.read_items is not None
    items = plan.read_items().to_pylist()
    assert [(i["title"], i["genres"], i["year"]) for i in items] == [
        ("Toy Story (1995)", ["Action", "Comedy"], 1995),
        ("Café Society", ["Western"], 1997),
    ]


def test_a_folder_of_logs_is_an_event_log_with_its_mapping(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", "uid,sku,time\n")
    _write(tmp_path / "sub" / "b.jsonl.gz", "")
    _write(tmp_path / "notes.txt", "not a log")
    options = EventLogOptions(mapping=parse_mapping("user=uid,item=sku,ts=time"), ts_unit="ms")
    plan = detect_source(tmp_path, options)
    assert plan.kind == "event-log"
    assert [(f.path.name, f.format) for f in plan.files] == [
        ("a.csv", "delimited"),
        ("b.jsonl.gz", "jsonl"),
    ]
    assert plan.files[0].mapping == {"user": "uid", "item": "sku", "ts": "time"}
    assert plan.files[0].event_type == "click" and plan.files[0].ts_unit == "ms"


def test_a_folder_of_logs_takes_its_catalogue_from_a_movies_csv_beside_them(
    tmp_path: Path,
) -> None:
    _write(tmp_path / "clicks.csv", "user,item,ts,type\n1,10,1000,click\n")
    _write(tmp_path / "movies.csv", "movieId,title,genres\n10,Ten (1999),Drama|War\n")
    _write(tmp_path / "links.csv", "movieId,imdbId,tmdbId\n10,0100,200\n")
    plan = detect_source(tmp_path)
    assert plan.kind == "event-log"
    assert [f.path.name for f in plan.files] == ["clicks.csv"]
    assert plan.read_items is not None
    items = plan.read_items().to_pylist()
    assert [(i["item_id"], i["year"], i["genres"], i["imdb_id"]) for i in items] == [
        (10, 1999, ["Drama", "War"], "0100")
    ]


def test_unknown_sources_and_bad_mappings_say_why(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        detect_source(tmp_path / "missing")
    _write(tmp_path / "readme.txt", "hello")
    with pytest.raises(SourceError, match="not a MovieLens directory"):
        detect_source(tmp_path)
    with pytest.raises(SourceError, match="bad --map entry 'colour=c'"):
        parse_mapping("user=u,colour=c")
