"""A real two-node Ray cluster: train on it, deploy on both nodes, lose a node, keep answering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import ray
from ray import serve
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from cluster.pipeline import run_pipeline
from cluster.serving import deploy
from core.settings import (
    DataSettings,
    Item2VecSettings,
    RankSettings,
    Settings,
    TrainSettings,
)
from ingest.feature_io import configure_ray_data
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

APP_REPLICA = "ServeReplica:starling:"
K = 5


@dataclass
class TwoNodeApp:
    cluster: Cluster
    worker: ray._private.node.Node
    settings: Settings
    url: str


def _replica_nodes() -> dict[str, str]:
    """Each live replica of the app (actor name) and the node it runs on."""
    actors = list_actors(filters=[("state", "=", "ALIVE")], limit=1000)
    return {a.name: a.node_id for a in actors if a.class_name.startswith(APP_REPLICA)}


def _recommend(url: str, user_id: int) -> httpx.Response:
    return httpx.post(f"{url}/recommend", json={"user_id": user_id, "k": K}, timeout=60)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[TwoNodeApp]:
    """Head and worker with 2 CPUs each; the pipeline trains on both, then the app is deployed."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "include_dashboard": True,
            "dashboard_port": free_port(),
            "temp_dir": str(tmp_path_factory.mktemp("ray")),
        },
    )
    try:
        worker = cluster.add_node(num_cpus=2)
        ray.init(address=cluster.address, log_to_driver=False)
        configure_ray_data()
        settings = Settings(
            home=tmp_path_factory.mktemp("home"),
            redis_url=redis_url,
            http_port=free_port(),
            # Replacement replicas start on a loaded machine; a stage gets time to answer.
            stage_timeout_s=10.0,
            data=DataSettings(synth_users=100, synth_items=150, synth_ratings=3000),
            train=TrainSettings(workers=1, cpus_per_worker=0.5),
            item2vec=Item2VecSettings(dim=8, epochs=1),
            rank=RankSettings(epochs=1, hidden=[16]),
        )
        run_pipeline(settings, None, lambda _step: None)
        yield TwoNodeApp(cluster, worker, settings, deploy(settings))
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        cluster.shutdown()


def test_replicas_run_on_both_nodes_and_answer(app: TwoNodeApp) -> None:
    nodes = _replica_nodes()
    assert {name.split("#")[1] for name in nodes} == {"Gateway", "Recall", "Rank", "Rerank"}
    assert set(nodes.values()) == {app.cluster.head_node.node_id, app.worker.node_id}
    answer = _recommend(app.url, 1)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["items"]) == K
    assert answer.json()["degraded"] == []


def test_app_keeps_answering_after_a_node_is_removed(app: TwoNodeApp) -> None:
    lost = {n for n, node in _replica_nodes().items() if node == app.worker.node_id}
    assert lost, "some replicas ran on the worker"
    app.cluster.remove_node(app.worker)

    # Every request after the loss answers, degraded at worst, while Serve replaces replicas.
    recovered_after = None
    started = time.monotonic()
    for user_id in range(1, 41):
        answer = _recommend(app.url, user_id)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) == K
        if recovered_after is None and not body["degraded"]:
            recovered_after = time.monotonic() - started
        time.sleep(0.25)
    assert recovered_after is not None, "no request was served by all stages after the loss"

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = _replica_nodes()
        if len(nodes) >= 4 and set(nodes.values()) == {app.cluster.head_node.node_id}:
            break
        time.sleep(1)
    assert set(_replica_nodes().values()) == {app.cluster.head_node.node_id}
    assert not lost & set(_replica_nodes()), "the lost replicas were replaced by new ones"
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
