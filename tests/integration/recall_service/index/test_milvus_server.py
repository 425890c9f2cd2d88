"""The Recall index on a real Milvus server (PyPI's `milvus` 2.3.5 standalone, not Milvus
Lite) with authorization on, as k8s/ runs it: an HNSW index that finds what exact search finds,
replicas sharing one collection, a promoted version's collection opened beside the serving one
while searches go on, and clients without the right credentials refused at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import Settings
from recall_service.index.artifacts import write_index_artifacts
from recall_service.index.exact import ExactIndex
from recall_service.index.item_attributes import ItemAttributes, ItemFilter
from recall_service.index.milvus import MilvusAuthError, VectorIndex, l2_normalise
from recall_service.index.replica import ReplicaIndex, open_replica_index
from tests.support.milvus_server import ROOT_TOKEN, milvus_server

pytestmark = pytest.mark.integration

N, D, K, QUERIES = 5_000, 32, 50, 200
GENRES = ("Comedy", "Drama", "Horror", "Sci-Fi")
# HNSW is approximate; measured here: recall@50 1.0 on 5,000 32-d items (ef = 2 k = 100).
MIN_RECALL = 0.95
# Replicas sign in as the server's root user, in the user-and-password form k8s/ gives them.
ROOT = {"user": "root", "password": ROOT_TOKEN.partition(":")[2]}
# A refusal is an answer from the server, not a timeout.
REFUSAL_S = 5.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with milvus_server(tmp_path_factory.mktemp("milvus") / "data", authorization=True) as uri:
        yield uri


@pytest.fixture(scope="module")
def items() -> tuple[np.ndarray, np.ndarray, ItemAttributes]:
    rng = np.random.default_rng(5)
    ids = np.arange(N, dtype=np.int64) * 3 + 2
    genres = [sorted({GENRES[g] for g in rng.integers(0, 4, 2)}) for _ in ids]
    years = rng.integers(1960, 2020, N)
    attributes = ItemAttributes(ids, genres, years, rng.random(N).astype(np.float32))
    return ids, l2_normalise(rng.normal(size=(N, D))), attributes


def _publish(home: Path, ids: np.ndarray, matrix: np.ndarray) -> ModelRef:
    paths = StarlingPaths(home)
    manifest = Registry(paths.registry).publish(
        "recall",
        "item2vec",
        write=lambda folder: write_index_artifacts(folder, paths, ids, matrix, "IP"),
        metrics={},
        data_snapshot="test",
    )
    return manifest.ref()


def _recall_at_k(
    found: list[list[tuple[int, float]]], exact: list[list[tuple[int, float]]]
) -> float:
    shares = [
        len({i for i, _ in hits} & {i for i, _ in truth}) / max(len(truth), 1)
        for hits, truth in zip(found, exact, strict=True)
    ]
    return float(np.mean(shares))


def test_replicas_share_one_hnsw_collection_that_finds_what_exact_search_finds(
    tmp_path: Path, server: str, items: tuple[np.ndarray, np.ndarray, ItemAttributes]
) -> None:
    ids, matrix, _ = items
    home = tmp_path / "home"
    ref = _publish(home, ids, matrix)
    settings = Settings(home=home, milvus_uri=server, milvus=ROOT)
    queries = l2_normalise(np.random.default_rng(6).normal(size=(QUERIES, D)))
    exact = ExactIndex(ids, matrix).search(queries, K)

    first = open_replica_index(settings, StarlingPaths(home), ref)
    second = open_replica_index(settings, StarlingPaths(home), ref)
    try:
        assert first.index.plan.index_type == "HNSW"
        assert second.index.plan.index_type == "HNSW"
        assert first.index.count() == N
        for replica in (first, second):
            assert _recall_at_k(replica.index.search(queries, K), exact) >= MIN_RECALL
        moved = l2_normalise(np.ones((1, D)))
        first.index.upsert(ids[:1], moved)
        # A server's searches are boundedly stale by default: the other replica sees the
        # write within moments, not at once.
        deadline = time.monotonic() + 30
        while second.index.search(moved, 1)[0][0][0] != ids[0]:
            assert time.monotonic() < deadline, "the other replica never saw the upsert"
            time.sleep(0.5)
    finally:
        first.close()
        second.close()


def test_filtered_hnsw_searches_keep_to_the_filter_and_find_what_exact_search_finds(
    server: str, items: tuple[np.ndarray, np.ndarray, ItemAttributes]
) -> None:
    ids, matrix, attributes = items
    queries = l2_normalise(np.random.default_rng(7).normal(size=(50, D)))
    exact = ExactIndex(ids, matrix, attributes)
    index = VectorIndex.build(
        server, "filtered_items", ids, matrix, attributes, credentials=SecretStr(ROOT_TOKEN)
    )
    try:
        assert index.plan.index_type == "HNSW"
        for where in (
            ItemFilter(genre="Comedy"),
            ItemFilter(genre="Sci-Fi", min_year=1990),
            ItemFilter(exclude=frozenset(ids[::2].tolist())),
        ):
            found = index.search(queries, K, where)
            allowed = set(ids[attributes.mask(where)].tolist())
            assert {i for row in found for i, _ in row} <= allowed
            assert _recall_at_k(found, exact.search(queries, K, where)) >= MIN_RECALL
        # A genre that tries to close the string literal matches nothing instead of everything.
        hostile = ItemFilter(genre='x" or year >= 0 or "')
        assert index.search(queries[:2], K, hostile) == [[], []]
    finally:
        index.client.drop_collection("filtered_items")
        index.close()


def test_a_new_versions_collection_opens_beside_the_serving_one_while_it_answers(
    tmp_path: Path, server: str, items: tuple[np.ndarray, np.ndarray, ItemAttributes]
) -> None:
    """What Recall's reconfigure does on a promote: open the new version, swap, close the old;
    searches on the serving version never fail meanwhile."""
    ids, matrix, _ = items
    home = tmp_path / "home"
    settings = Settings(home=home, milvus_uri=server, milvus=ROOT)
    paths = StarlingPaths(home)
    serving = open_replica_index(settings, paths, _publish(home, ids, matrix))
    stop = threading.Event()
    answered: list[int] = []
    failures: list[BaseException] = []

    def search_on() -> None:
        while not stop.is_set():
            try:
                answered.append(len(serving.index.search(matrix[:4], K)[0]))
            except BaseException as error:  # every failure is what the test looks for
                failures.append(error)

    searcher = threading.Thread(target=search_on)
    searcher.start()
    promoted: ReplicaIndex | None = None
    try:
        shifted = l2_normalise(matrix + 0.3)
        promoted = open_replica_index(settings, paths, _publish(home, ids, shifted))
        assert promoted.index.count() == N
        assert promoted.index.search(shifted[:1], 1)[0][0][0] == ids[0]
    finally:
        stop.set()
        searcher.join()
        serving.close()
        if promoted is not None:
            promoted.close()
    assert not failures
    assert answered and set(answered) == {K}


@pytest.mark.parametrize(
    ("credentials", "refusal"),
    [
        ({}, "asks for credentials"),
        ({"user": "root", "password": "not-Milvus"}, "refused the credentials"),
        ({"token": "root:not-Milvus"}, "refused the credentials"),
    ],
)
def test_a_replica_without_the_right_credentials_is_refused_at_once(
    tmp_path: Path, server: str, credentials: dict[str, str], refusal: str
) -> None:
    """What a Recall replica started without the Secret, or with a stale one, meets: a clear
    error when it opens its index, which names the settings and never the password."""
    home = tmp_path / "home"
    ids = np.arange(10, dtype=np.int64)
    ref = _publish(home, ids, l2_normalise(np.random.default_rng(8).normal(size=(10, D))))
    settings = Settings(home=home, milvus_uri=server, milvus=credentials)
    began = time.monotonic()
    with pytest.raises(MilvusAuthError, match=refusal) as refused:
        open_replica_index(settings, StarlingPaths(home), ref)
    assert time.monotonic() - began < REFUSAL_S
    assert "STARLING_MILVUS__" in str(refused.value)
    assert "not-Milvus" not in str(refused.value)


def test_the_right_token_builds_and_searches(server: str) -> None:
    ids = np.arange(100, dtype=np.int64)
    vectors = l2_normalise(np.random.default_rng(9).normal(size=(100, D)))
    token = SecretStr(ROOT_TOKEN)
    built = VectorIndex.build(server, "token_items", ids, vectors, credentials=token)
    opened = VectorIndex.open(server, "token_items", token)
    try:
        assert opened.count() == 100
        assert opened.search(vectors[:1], 1)[0][0][0] == ids[0]
    finally:
        built.client.drop_collection("token_items")
        built.close()
        opened.close()
