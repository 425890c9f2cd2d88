"""What users do against a `ray start --head` cluster: `serve deploy` of the serve config file,
`starling serve` through Ray Client, and `ray job submit` of a training run.

Its own module, so that the head cluster's app is not deployed beside the local Serve app that
test_deploy_control keeps running: two apps on two cores doubled the time of each."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from ray.job_submission import JobStatus, JobSubmissionClient

from cluster.control.serve_config import DEFAULT_CONFIG, app_args
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from tests.support.ray_head import HeadCluster
from tests.support.trained_home import SMALL_HOME, add_identical_rank_version, fill_small_home

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[4]


@pytest.fixture(scope="module")
def settings(ray_local: None, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small home with a trained recall model and rank mlp v1 and v2, the same weights."""
    settings = Settings(**SMALL_HOME, home=tmp_path_factory.mktemp("home"), redis_url=redis_url)
    fill_small_home(settings, tmp_path_factory)
    add_identical_rank_version(settings)
    return settings


def test_serve_deploy_of_the_config_file_brings_the_app_up(
    settings: Settings, ray_head: HeadCluster, tmp_path: Path
) -> None:
    port = ray_head.http_port
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["http_options"] = {"host": "0.0.0.0", "port": port}
    config["applications"][0]["args"] = app_args(settings)
    copy = tmp_path / "serve_config.yaml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "PYTHONPATH": str(ROOT)}
    serve_cli = str(Path(sys.executable).with_name("serve"))
    # The dashboard answers before its Serve module does: retry until the deploy is accepted.
    for _ in range(30):
        deployed = subprocess.run(
            [serve_cli, "deploy", str(copy), "-a", ray_head.dashboard],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if deployed.returncode == 0:
            break
        time.sleep(5)
    assert deployed.returncode == 0, deployed.stderr
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the app deployed with `serve deploy` never got healthy"
        time.sleep(1)
    answer = httpx.post(f"{url}/recommend", json={"user_id": 3, "k": 5, "debug": True}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["items"]) == 5

    # `starling models promote` from another process reaches that cluster through RAY_ADDRESS.
    serving = Registry(StarlingPaths(settings.home).registry).serving("rank")
    assert serving is not None
    other = "v1" if serving.version == "v2" else "v2"
    promoted = subprocess.run(
        [sys.executable, "-m", "cluster.cli.main", "models", "promote", "rank", "mlp", other],
        env={
            **env,
            "RAY_ADDRESS": ray_head.gcs,
            "STARLING_HOME": str(settings.home),
            "STARLING_SERVE_CONFIG": str(copy),
        },
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "without restarting" in promoted.stdout
    answer = httpx.post(f"{url}/recommend", json={"user_id": 3, "k": 5, "debug": True}, timeout=60)
    rank = next(t for t in answer.json()["trace"] if t["stage"] == "rank")
    assert rank["model"] == f"mlp:{other}"
    # The next test deploys from scratch: replacing this app's replicas in place would start
    # the new ones beside the old ones on the same two cores.
    shutdown = [serve_cli, "shutdown", "-a", ray_head.dashboard, "-y"]
    subprocess.run(shutdown, env=env, capture_output=True, timeout=120, check=True)


def _cluster_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "PYTHONPATH": str(ROOT),
        "STARLING_HOME": str(settings.home),
        "REDIS_URL": settings.resolved_redis_url(),
    }


def test_starling_serve_through_ray_client_deploys_and_leaves_the_app_running(
    settings: Settings, ray_head: HeadCluster
) -> None:
    """From outside the cluster (Ray Client), `starling serve` deploys, waits until the head's
    proxy answers, and the app outlives the command."""
    command = [
        *(sys.executable, "-m", "cluster.cli.main", "serve", "--address", ray_head.client),
        *("--host", "0.0.0.0", "--port", str(ray_head.http_port)),
    ]
    process = subprocess.Popen(
        command,
        env=_cluster_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Starling is up at" in line:
                break
        assert any("Starling is up at" in line for line in lines), "".join(lines)
        url = f"http://127.0.0.1:{ray_head.http_port}"
        assert url in lines[-1]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    answer = httpx.post(f"{url}/recommend", json={"user_id": 3, "k": 5}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["items"]) == 5


def test_ray_job_submit_trains_a_rank_model_on_the_cluster(
    settings: Settings, ray_head: HeadCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    registry = Registry(StarlingPaths(settings.home).registry)
    before = set(registry.versions("rank", "mlp"))
    starling = str(Path(sys.executable).with_name("starling"))
    submitted = subprocess.run(
        [
            *(str(Path(sys.executable).with_name("ray")), "job", "submit", "--no-wait"),
            *("--address", ray_head.dashboard),
            # A job sees the cluster's environment, not the submitter's: settings travel here.
            *(
                "--runtime-env-json",
                json.dumps({"env_vars": {"STARLING_HOME": str(settings.home)}}),
            ),
            *("--", starling, "train", "rank", "--model", "mlp", "--epochs", "1"),
        ],
        env=_cluster_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.search(r"raysubmit_\w+", submitted.stdout + submitted.stderr)
    assert job_id is not None, submitted.stdout + submitted.stderr
    jobs = JobSubmissionClient(ray_head.dashboard)
    deadline = time.monotonic() + 400
    while not (status := jobs.get_job_status(job_id.group())).is_terminal():
        assert time.monotonic() < deadline, jobs.get_job_logs(job_id.group())
        time.sleep(2)
    assert status == JobStatus.SUCCEEDED, jobs.get_job_logs(job_id.group())
    after = set(registry.versions("rank", "mlp"))
    assert len(after - before) == 1, (before, after)
