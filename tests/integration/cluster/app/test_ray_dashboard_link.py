"""The ops page's link to Ray's dashboard: the address Ray registers when its dashboard starts,
as a process inside the cluster (a task here, a Gateway replica in the app) reads it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray

from cluster.app.ops_insight_routes import _dashboard_url
from cluster.runtime.local_ray import start_local_ray
from core.settings import Settings
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def ray_with_dashboard(_ray_shut_down_at_the_end: None) -> Iterator[int]:
    """A Ray of its own with the dashboard on a free loopback port; the shared one (no
    dashboard) is stopped first and started again by the next module that asks for it."""
    if ray.is_initialized():
        ray.shutdown()
    port = free_port()
    start_local_ray(
        Settings(),
        num_cpus=1,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=port,
        log_to_driver=False,
    )
    try:
        yield port
    finally:
        ray.shutdown()


def test_a_process_in_the_cluster_finds_rays_dashboard(ray_with_dashboard: int) -> None:
    found = ray.get(ray.remote(num_cpus=0)(_dashboard_url).remote())
    assert found == f"http://127.0.0.1:{ray_with_dashboard}"


def test_no_link_outside_a_ray_cluster() -> None:
    if ray.is_initialized():
        ray.shutdown()
    assert _dashboard_url() is None
