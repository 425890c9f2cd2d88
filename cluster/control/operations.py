"""Operating the running app: its status, scaling a deployment, promoting a model version.

Each change sets one field of one deployment (replica bounds or a user_config), which Serve
applies in place: replicas are added, removed or reconfigured, never restarted.
`cluster/control/deployment_changes.py` routes it to the running app and keeps it for the next
deploy (the serve config file, or the RayService on KubeRay). These functions block; async callers
(the Gateway) run them in a thread. They need a connected Ray (`connected()` from a CLI
process).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from ray import serve

from cluster.control.deployment_changes import (
    AppNotRunningError,
    change_running,
    current_options,
    persist,
    serialised,
    serve_details,
)
from cluster.names import APP_NAME, DEPLOYMENTS
from core.api import Candidate, StageResult
from core.errors import AppStateError, InvalidInputError
from core.paths import StarlingPaths
from core.registry import ModelKind, ModelRef, Registry
from core.settings import Settings

SWAP_GRACE_S = 10.0


class PromotionRefusedError(AppStateError):
    """The replicas could not load the version and kept serving the old one."""


class ScaleError(InvalidInputError):
    """Replica numbers that make no sense."""


class NotSettledError(AppStateError, TimeoutError):
    """A deployment did not reach the wanted state in time."""


class ReplicaInfo(BaseModel):
    replica_id: str
    state: str
    actor_id: str | None
    pid: int | None
    node_id: str | None


class DeploymentStatus(BaseModel):
    name: str
    status: str
    message: str
    target_replicas: int
    running_replicas: int
    min_replicas: int | None
    max_replicas: int | None
    user_config: dict[str, Any] | None
    replicas: list[ReplicaInfo]


class AppStatus(BaseModel):
    name: str
    status: str
    message: str
    deployments: dict[str, DeploymentStatus]


class Promotion(BaseModel):
    """What `promote` did."""

    ref: ModelRef
    previous: ModelRef | None
    live: bool = Field(
        description="the running app swapped to it; False when no app runs (the next deploy will)"
    )


def app_status() -> AppStatus:
    """Per deployment: status, target and running replicas, bounds, user_config, replicas."""
    app = serve_details().applications.get(APP_NAME)
    if app is None:
        raise AppNotRunningError(f"no {APP_NAME} app on this Ray cluster")
    deployments = {}
    for name, deployment in app.deployments.items():
        config = deployment.deployment_config
        bounds = config.autoscaling_config if isinstance(config.autoscaling_config, dict) else {}
        user_config = config.user_config if isinstance(config.user_config, dict) else None
        deployments[name] = DeploymentStatus(
            name=name,
            status=deployment.status.value,
            message=deployment.message,
            target_replicas=deployment.target_num_replicas,
            running_replicas=sum(r.state.value == "RUNNING" for r in deployment.replicas),
            min_replicas=bounds.get("min_replicas"),
            max_replicas=bounds.get("max_replicas"),
            user_config=user_config,
            replicas=[
                ReplicaInfo(
                    replica_id=r.replica_id,
                    state=r.state.value,
                    actor_id=r.actor_id,
                    pid=r.pid,
                    node_id=r.node_id,
                )
                for r in deployment.replicas
            ],
        )
    return AppStatus(
        name=APP_NAME, status=app.status.value, message=app.message, deployments=deployments
    )


def _wait_for(done: Callable[[DeploymentStatus], bool], deployment: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = app_status().deployments.get(deployment)
        if state is not None and done(state):
            return
        time.sleep(0.25)
    raise NotSettledError(f"{deployment} did not settle in {timeout_s:.0f} s: {state}")


def _settled(state: DeploymentStatus) -> bool:
    return state.status == "HEALTHY" and state.running_replicas == state.target_replicas == len(
        state.replicas
    )


# Deployments that must not run twice, and why.
SINGLE_REPLICA = {"EventLander": "the events lake takes one writer at a time"}


def scale(
    settings: Settings,
    deployment: str,
    num_replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    timeout_s: float = 120.0,
) -> AppStatus | None:
    """Set a fixed replica count (`num_replicas`) or autoscaling bounds; the running app (if
    any) gets them without dropping requests, and the serve config file keeps them. Returns the
    app's status once the deployment has settled, or None when no app runs."""
    # Bounds are read, changed and written back: another change in between would be lost.
    with serialised(settings):
        bounds = dict(current_options(settings, deployment).get("autoscaling_config") or {})
        if num_replicas is not None:
            if min_replicas is not None or max_replicas is not None:
                raise ScaleError("give either a replica count or min/max bounds, not both")
            bounds.update(min_replicas=num_replicas, max_replicas=num_replicas)
        if min_replicas is not None:
            bounds["min_replicas"] = min_replicas
        if max_replicas is not None:
            bounds["max_replicas"] = max_replicas
        low, high = bounds.get("min_replicas", 1), bounds.get("max_replicas", 1)
        if low < 1 or high < low:
            raise ScaleError(
                f"{deployment}: need 1 <= min_replicas <= max_replicas, got {low}..{high}"
            )
        if deployment in SINGLE_REPLICA and high > 1:
            raise ScaleError(f"{deployment} runs one replica: {SINGLE_REPLICA[deployment]}")
        live = change_running(settings, deployment, {"autoscaling_config": bounds})
        persist(settings, deployment, {"autoscaling_config": bounds})
    if not live:
        return None

    def in_bounds(state: DeploymentStatus) -> bool:
        return (
            (state.min_replicas, state.max_replicas) == (low, high)
            and low <= state.target_replicas <= high
            and _settled(state)
        )

    _wait_for(in_bounds, deployment, timeout_s)
    return app_status()


def promote(
    settings: Settings, kind: ModelKind, name: str, version: str, timeout_s: float = 120.0
) -> Promotion:
    """Serve `kind` model `name` `version`: the running replicas swap to it in reconfigure()
    while they keep answering. When they refuse it (it fails to load), the old version keeps
    serving, nothing is recorded and PromotionRefusedError says so. Otherwise the registry's
    serving pointer and the serve config file both name it."""
    registry = Registry(StarlingPaths.of(settings).registry)
    ref = ModelRef(kind=kind, name=name, version=version)
    registry.manifest(ref)
    deployment = DEPLOYMENTS[kind]
    wanted = {"name": name, "version": version}
    # Whole, so that a second promotion cannot swap the replicas while this one checks them
    # (and then roll back what it took for a refusal).
    with serialised(settings):
        old_config = _running_user_config(deployment)
        previous = (
            ModelRef(kind=kind, name=old_config["name"], version=old_config["version"])
            if old_config
            else registry.serving(kind)
        )
        live = change_running(settings, deployment, {"user_config": wanted})
        if live:
            _wait_for(lambda s: s.user_config == wanted and _settled(s), deployment, timeout_s)
            served = _served_after_swap(kind, f"{name}:{version}", deployment)
            if served != {f"{name}:{version}"}:
                if old_config is not None:
                    change_running(settings, deployment, {"user_config": old_config})
                    _wait_for(lambda s: s.user_config == old_config and _settled(s), deployment, 60)
                shown = ", ".join(sorted(served))
                raise PromotionRefusedError(
                    f"{deployment} replicas did not load {kind} {name} {version} and still serve "
                    f"{shown}; their logs say why"
                )
        registry.promote(ref)
        persist(settings, deployment, {"user_config": wanted})
    return Promotion(ref=ref, previous=previous, live=live)


def _running_user_config(deployment: str) -> dict[str, Any] | None:
    try:
        state = app_status().deployments.get(deployment)
    except AppNotRunningError:
        return None
    return state.user_config if state is not None else None


def _served_after_swap(kind: ModelKind, tag: str, deployment: str) -> set[str]:
    """The tags replicas serve once they all show `tag`, or after a grace period in which a
    replica may still be finishing its reconfigure()."""
    deadline = time.monotonic() + SWAP_GRACE_S
    while True:
        served = _probe(kind, app_status().deployments[deployment].running_replicas)
        if served == {tag} or time.monotonic() > deadline:
            return served
        time.sleep(0.5)


def _probe(kind: ModelKind, replicas: int) -> set[str]:
    """The model tags that the deployment's traces show, from enough calls to reach every
    replica with high probability (the router picks replicas at random)."""
    handle = serve.get_deployment_handle(DEPLOYMENTS[kind], APP_NAME)
    # The Gateway calls this from a worker thread (asyncio.to_thread), which has no event loop;
    # in Serve's throughput mode a replica's handles run their router on the caller's loop and
    # fail there, so this one gets a router loop of its own. Serve hands a process the same
    # handle again, and a handle is initialised once: the first probe does it.
    if not handle.is_initialized:
        handle._init(_run_router_in_separate_loop=True)
    tags = set()
    for _ in range(4 * replicas + 2):
        if kind == "rank":
            probe = [Candidate(item_id=0, score=0.0)]
            result: StageResult = handle.rank.remote(0, probe).result()
        else:
            result = handle.recall.remote(0).result()
        tags.add(result.trace.model or "")
    return tags
