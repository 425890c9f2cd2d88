import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, Registry
from core.settings import Settings
from recall_service.index.artifacts import write_index_artifacts
from recall_service.index.exact import ExactIndex
from recall_service.index.files import COLLECTION, MILVUS_DB
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import VectorIndex, l2_normalise
from recall_service.index.replica import open_replica_index, resolve_ref
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

N, D, K = 400, 16, 10


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return np.arange(N, dtype=np.int64) * 7 + 1, l2_normalise(rng.normal(size=(N, D)))


GENRES = ("Comedy", "Drama", "Horror", "Sci-Fi")
FILTERS = (
    ItemFilter(genre="Comedy"),
    ItemFilter(min_year=2000),
    ItemFilter(genre="Sci-Fi", min_year=1990),
    ItemFilter(genre="Western"),
    # Every other item id (ids are 7 i + 1), as a user's seen items are left out.
    ItemFilter(genre="Drama", exclude=frozenset(range(1, N * 7, 14))),
)


@pytest.fixture(scope="module")
def attributes(vectors: tuple[np.ndarray, np.ndarray]) -> ItemAttributes:
    ids, _ = vectors
    rng = np.random.default_rng(4)
    genres = [sorted({GENRES[g] for g in rng.integers(0, 4, 2)}) for _ in ids]
    years = rng.integers(1960, 2020, len(ids))
    return ItemAttributes(ids, genres, years, rng.random(len(ids)).astype(np.float32))


def _ids(hits: list[list[tuple[int, float]]]) -> list[list[int]]:
    return [[item for item, _ in row] for row in hits]


def _exact_top(ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    scores = queries @ matrix.T
    return [ids[np.argsort(-row)[:K]].tolist() for row in scores]


def test_a_copied_index_reopened_in_another_process_finds_the_exact_neighbours(
    tmp_path: Path, vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, matrix = vectors
    VectorIndex.build(tmp_path / "built" / MILVUS_DB, COLLECTION, ids, matrix).close()
    copy = tmp_path / "replica" / MILVUS_DB
    shutil.copytree(tmp_path / "built" / MILVUS_DB, copy, ignore=shutil.ignore_patterns("LOCK"))
    queries = matrix[:5] + 0.1
    script = (
        "import json, sys, numpy as np\n"
        "from recall_service.index.milvus import VectorIndex\n"
        f"index = VectorIndex.open({str(copy)!r}, {COLLECTION!r})\n"
        "queries = np.array(json.loads(sys.stdin.read()), dtype=np.float32)\n"
        f"print(json.dumps([[i for i, _ in hits] for hits in index.search(queries, {K})]))\n"
        "index.close()\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(queries.tolist()),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[4],
        check=True,
    )

    assert json.loads(done.stdout.strip().splitlines()[-1]) == _exact_top(ids, matrix, queries)


def test_upserting_an_existing_id_replaces_its_vector(
    tmp_path: Path, vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, matrix = vectors
    index = VectorIndex.build(tmp_path / MILVUS_DB, COLLECTION, ids, matrix)
    try:
        moved = l2_normalise(np.ones((1, D)))
        index.upsert(ids[:1], moved)

        assert index.count() == N
        np.testing.assert_allclose(index.vectors([int(ids[0])])[int(ids[0])], moved[0], atol=1e-6)
        assert index.search(moved, 1)[0][0][0] == ids[0]
        assert index.vectors([-5]) == {}
    finally:
        index.close()


def test_each_replica_opens_its_own_copy_and_removes_it_on_close(
    tmp_path: Path, vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, matrix = vectors
    paths = StarlingPaths(tmp_path)
    registry = Registry(paths.registry)
    registry.publish(
        "recall",
        "item2vec",
        write=lambda folder: VectorIndex.build(folder / MILVUS_DB, COLLECTION, ids, matrix).close(),
        metrics={},
        data_snapshot="test",
    )
    ref = resolve_ref(registry, "item2vec", None)

    first = open_replica_index(Settings(home=tmp_path), paths, ref)
    second = open_replica_index(Settings(home=tmp_path), paths, ref)
    try:
        assert first.workdir != second.workdir
        assert first.label == "item2vec:v1"
        expected = _exact_top(ids, matrix, matrix[:1])[0]
        for replica in (first, second):
            assert [i for i, _ in replica.index.search(matrix[:1], K)[0]] == expected
    finally:
        first.close()
        second.close()
    assert list((paths.runtime / "recall").iterdir()) == []
    with pytest.raises(ModelNotFoundError):
        resolve_ref(registry, "item2vec", "v2")


def test_filtered_searches_after_reopening_match_exact_filtered_search(
    tmp_path: Path, vectors: tuple[np.ndarray, np.ndarray], attributes: ItemAttributes
) -> None:
    ids, matrix = vectors
    VectorIndex.build(tmp_path / MILVUS_DB, COLLECTION, ids, matrix, attributes).close()
    exact = ExactIndex(ids, matrix, attributes)
    queries = matrix[:4] + 0.1

    index = VectorIndex.open(tmp_path / MILVUS_DB, COLLECTION)
    try:
        assert index.count() == N and index.plan.index_type == "FLAT"
        for where in FILTERS:
            found = index.search(queries, K, where)
            assert _ids(found) == _ids(exact.search(queries, K, where)), where
        comedies = {int(i) for i, g in zip(ids, attributes.genres, strict=True) if "Comedy" in g}
        assert {i for row in _ids(index.search(queries, K, FILTERS[0])) for i in row} <= comedies
        assert index.search(queries, K, FILTERS[3]) == [[], [], [], []]
    finally:
        index.close()


@pytest.fixture()
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """`milvus-lite server` on a free port: what MILVUS_URI points replicas at."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "milvus-lite"),
            *("server", "--data-dir", str(tmp_path / "milvus-server")),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                VectorIndex.open(uri, "none")
            except LookupError:
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_replicas_on_a_milvus_server_share_one_collection_built_from_the_registry(
    tmp_path: Path,
    vectors: tuple[np.ndarray, np.ndarray],
    attributes: ItemAttributes,
    milvus_server: str,
) -> None:
    ids, matrix = vectors
    paths = StarlingPaths(tmp_path / "home")
    registry = Registry(paths.registry)
    manifest = registry.publish(
        "recall",
        "item2vec",
        write=lambda folder: write_index_artifacts(folder, paths, ids, matrix, "IP"),
        metrics={},
        data_snapshot="test",
    )
    settings = Settings(home=paths.home, milvus_uri=milvus_server)
    exact = ExactIndex(ids, matrix)
    queries = matrix[:3] + 0.1

    first = open_replica_index(settings, paths, manifest.ref())
    second = open_replica_index(settings, paths, manifest.ref())
    try:
        assert first.workdir is None and second.workdir is None
        assert first.index.count() == N
        for replica in (first, second):
            assert _ids(replica.index.search(queries, K)) == _ids(exact.search(queries, K))
        # Without item features every item has no genre and an unknown year.
        assert second.index.search(queries, K, ItemFilter(min_year=1900)) == [[], [], []]
        moved = l2_normalise(np.ones((1, D)))
        first.index.upsert(ids[:1], moved)
        assert second.index.search(moved, 1)[0][0][0] == ids[0]
    finally:
        first.close()
        second.close()
    assert not (paths.runtime / "recall").exists()
