import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.paths import StarlingPaths
from core.registry import ModelNotFoundError, Registry
from core.settings import Settings
from recall_service.artifacts import COLLECTION, MILVUS_DB
from recall_service.index import VectorIndex, l2_normalise
from recall_service.replica_index import open_replica_index, resolve_ref

pytestmark = pytest.mark.integration

N, D, K = 400, 16, 10


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return np.arange(N, dtype=np.int64) * 7 + 1, l2_normalise(rng.normal(size=(N, D)))


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
        "from recall_service.index import VectorIndex\n"
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
        cwd=Path(__file__).parents[3],
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
