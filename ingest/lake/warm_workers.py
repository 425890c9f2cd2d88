"""Starting an ingest's Ray workers while its driver still reads the catalog and plans chunks.

A driver gets worker processes of its own: the first task of a run waited 1.4 s for its worker
to start and import pyarrow and the ingest modules, and only after the driver had read the
catalog and planned the chunks. One small task per CPU, sent first, does that start and those
imports alongside the driver's work; the run's tasks then find their workers ready.
"""

from __future__ import annotations

import importlib

import ray

# Enough for any one machine; a larger cluster's other workers start as tasks reach them.
MAX_WARM_WORKERS = 64
TASK_MODULES = ("ingest.lake.stage_chunks", "ingest.lake.month_merge")


@ray.remote(num_cpus=1)
def _import_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


def warm_workers() -> list[ray.ObjectRef]:
    """Send one import task per CPU of the cluster; nothing needs to wait for them."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return [_import_task_modules.remote() for _ in range(min(cpus, MAX_WARM_WORKERS))]
