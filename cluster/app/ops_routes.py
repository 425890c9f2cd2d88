"""The ops page and the admin routes behind it: every deployment's replicas, load, latency and
model, the A/B experiments, the online update's serving decisions, and controls to scale a
deployment, promote a model version or roll a promotion back.

The routes live on a router that the Gateway includes; they reach the Gateway replica that runs
them through the `CurrentGateway` dependency. Every route but the page's static HTML needs an
admin key; the page asks the operator for one and sends it with each call.
"""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cluster.app.auth import AdminScope
from cluster.app.live_stats import CallStats
from cluster.app.ops_insight_routes import router as insight_router
from cluster.app.replica import CurrentGateway, GatewayReplica
from cluster.control.deployment_changes import AppNotRunningError
from cluster.control.model_decisions import NothingToRollBackError, rollback
from cluster.control.operations import (
    AppStatus,
    DeploymentStatus,
    NotSettledError,
    Promotion,
    PromotionRefusedError,
    ScaleError,
    app_status,
    promote,
    scale,
)
from core.decisions import Decision, list_decisions
from core.experiments import Experiment
from core.paths import StarlingPaths
from core.registry import MODEL_NAME_PATTERN, VERSION_PATTERN, ModelNotFoundError

PAGE = Path(__file__).with_name("web") / "ops.html"
SCRIPTS = {"ops.js", "insights.js"}
DeploymentName = Literal["Gateway", "Recall", "Rank", "Rerank"]

router = APIRouter(tags=["ops"])
router.include_router(insight_router)


class DeploymentView(DeploymentStatus):
    """A deployment as Serve reports it, with what this Gateway replica measured of it."""

    model: str | None = Field(description="the model version the deployment serves, if any")
    ongoing: int = Field(description="calls in flight from this Gateway replica")
    calls: int = Field(description="calls this Gateway replica made since it started")
    p50_ms: float | None
    p99_ms: float | None


class OpsStatus(BaseModel):
    """`GET /admin/status`: what the ops page shows."""

    app_status: str
    updated: datetime
    deployments: list[DeploymentView]
    experiments: list[Experiment]


class ScaleRequest(BaseModel):
    """A fixed replica count, or autoscaling bounds."""

    model_config = ConfigDict(extra="forbid", strict=True)

    deployment: DeploymentName
    num_replicas: int | None = Field(None, ge=1, le=64)
    min_replicas: int | None = Field(None, ge=1, le=64)
    max_replicas: int | None = Field(None, ge=1, le=64)

    @model_validator(mode="after")
    def _one_kind(self) -> "ScaleRequest":
        bounds = self.min_replicas is not None or self.max_replicas is not None
        if (self.num_replicas is None) == (not bounds):
            raise ValueError("give num_replicas, or min_replicas and/or max_replicas")
        return self


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["recall", "rank"]
    name: str = Field(pattern=MODEL_NAME_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["recall", "rank"]


def _view(status: AppStatus, calls: dict[str, CallStats]) -> list[DeploymentView]:
    views = []
    for d in status.deployments.values():
        seen = calls.get(d.name, CallStats(ongoing=0, calls=0, p50_ms=None, p99_ms=None))
        model = f"{d.user_config['name']}:{d.user_config['version']}" if d.user_config else None
        views.append(DeploymentView(**d.model_dump(), model=model, **seen.model_dump()))
    return views


async def _status(gateway: GatewayReplica) -> OpsStatus:
    try:
        status = await asyncio.to_thread(app_status)
    except AppNotRunningError as error:
        raise HTTPException(503, str(error)) from None
    return OpsStatus(
        app_status=status.status,
        updated=datetime.now(UTC),
        deployments=_view(status, gateway.live.snapshot()),
        experiments=gateway.settings.experiments,
    )


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
async def ops_page() -> HTMLResponse:
    """The page itself holds no data: everything it shows comes from the admin routes."""
    return HTMLResponse(PAGE.read_text())


@router.get("/ops/{script}", response_class=Response, include_in_schema=False)
async def ops_script(script: str) -> Response:
    """The page's scripts, shipped beside it (no build step, nothing fetched from outside)."""
    if script not in SCRIPTS:
        raise HTTPException(404, f"no {script!r}")
    return Response(PAGE.with_name(script).read_text(), media_type="text/javascript")


@router.get("/admin/status", response_model=OpsStatus)
async def ops_status(_scope: AdminScope, gateway: CurrentGateway) -> OpsStatus:
    """Every deployment's replicas, load, latency and model, and the A/B experiments."""
    return await _status(gateway)


@router.post("/admin/scale", response_model=OpsStatus)
async def ops_scale(change: ScaleRequest, _scope: AdminScope, gateway: CurrentGateway) -> OpsStatus:
    """Set a deployment's replica count or autoscaling bounds. The running app applies it
    without dropping requests and the serve config file keeps it; answers once it settled."""
    try:
        await asyncio.to_thread(
            scale,
            gateway.settings,
            change.deployment,
            num_replicas=change.num_replicas,
            min_replicas=change.min_replicas,
            max_replicas=change.max_replicas,
        )
    except ScaleError as error:
        raise HTTPException(422, str(error)) from None
    except NotSettledError as error:
        raise HTTPException(504, str(error)) from None
    return await _status(gateway)


@router.post("/admin/models/promote", response_model=Promotion)
async def ops_promote(
    change: PromoteRequest, _scope: AdminScope, gateway: CurrentGateway
) -> Promotion:
    """Serve another model version; replicas swap it in without restarting. A version they
    cannot load is refused (409) and the old one keeps serving."""
    try:
        return await asyncio.to_thread(
            promote, gateway.settings, change.kind, change.name, change.version
        )
    except ModelNotFoundError as error:
        raise HTTPException(404, str(error)) from None
    except PromotionRefusedError as error:
        raise HTTPException(409, str(error)) from None


@router.get("/admin/models/decisions", response_model=list[Decision])
async def ops_decisions(
    _scope: AdminScope,
    gateway: CurrentGateway,
    kind: Literal["recall", "rank"] = "rank",
    limit: int = Query(20, ge=1, le=200),
) -> list[Decision]:
    """The newest serving decisions of `kind` (promoted, refused, rolled back), newest first."""
    root = StarlingPaths.of(gateway.settings).registry
    found = await asyncio.to_thread(list_decisions, root, kind, limit)
    return found[::-1]


@router.post("/admin/models/rollback", response_model=Decision)
async def ops_rollback(
    change: RollbackRequest, _scope: AdminScope, gateway: CurrentGateway
) -> Decision:
    """Serve again the version that served before the last recorded promotion of `kind`,
    through the same hot swap; 409 when no decision put the serving version in place."""
    try:
        return await asyncio.to_thread(rollback, gateway.settings, change.kind)
    except NothingToRollBackError as error:
        raise HTTPException(409, str(error)) from None
