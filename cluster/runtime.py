"""Starting and stopping the runtime parts the CLI needs: Ray and the embedded Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import ray
import ray.data

from cluster.local_redis import LocalRedis
from core.paths import StarlingPaths
from core.settings import Settings

log = logging.getLogger(__name__)


def quiet_ray_data() -> None:
    """Ray Data prints a progress bar per operator by default; the CLI reports steps itself."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.train").setLevel(logging.WARNING)


@contextmanager
def ray_runtime(settings: Settings) -> Iterator[None]:
    """Connect to RAY_ADDRESS or start a local Ray; shut it down on exit."""
    if ray.is_initialized():
        yield
        return
    ray.init(
        address=settings.ray_address,
        num_cpus=None if settings.ray_address else settings.num_cpus,
        include_dashboard=settings.ray_dashboard if not settings.ray_address else None,
        log_to_driver=False,
        configure_logging=True,
        logging_level=logging.WARNING,
    )
    quiet_ray_data()
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def online_store_runtime(settings: Settings) -> Iterator[None]:
    """Start the embedded Redis unless REDIS_URL names one; stop it on exit."""
    if settings.redis_url:
        yield
        return
    server = LocalRedis(StarlingPaths(settings.home).redis_dir, settings.redis_port)
    server.start()
    try:
        yield
    finally:
        server.stop()


@contextmanager
def full_runtime(settings: Settings) -> Iterator[None]:
    """Redis first, then Ray; stopped in reverse order."""
    with ExitStack() as stack:
        stack.enter_context(online_store_runtime(settings))
        stack.enter_context(ray_runtime(settings))
        yield
