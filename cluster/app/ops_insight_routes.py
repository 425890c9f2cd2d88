"""The ops page's admin routes for what Starling knows beyond the live status: the pipeline's
plots, the model versions with the gate's verdicts, the A/B report, this replica's recent
traffic, and where Ray's dashboard runs. All need an admin key; ops_routes includes them."""

import asyncio
from datetime import timedelta
from typing import Literal

import ray
from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field
from ray.experimental import internal_kv

from cluster.app.auth import AdminScope
from cluster.app.ops_insights import (
    AbReport,
    Plot,
    VersionView,
    ab_report,
    available_plots,
    plot_png,
    versions,
)
from cluster.app.recent_traffic import TrafficPoint
from cluster.app.replica import CurrentGateway

router = APIRouter(tags=["ops"])
# Where Ray's dashboard writes its address when it starts (Ray's GCS key-value store).
_DASHBOARD_KEY = (b"webui:url", "dashboard")


class RayDashboard(BaseModel):
    url: str | None = Field(description="Ray's dashboard, as Ray reports it; None when off")


@router.get("/admin/plots", response_model=list[Plot])
async def ops_plots(_scope: AdminScope, gateway: CurrentGateway) -> list[Plot]:
    """The plots the pipeline drew in this home: data stats, evaluations, training curves."""
    return await asyncio.to_thread(available_plots, gateway.settings)


@router.get("/admin/plots/{name}", response_class=Response)
async def ops_plot(name: str, _scope: AdminScope, gateway: CurrentGateway) -> Response:
    """One plot's PNG; 404 when it is not known or not drawn yet."""
    png = await asyncio.to_thread(plot_png, gateway.settings, name)
    if png is None:
        raise HTTPException(404, f"no plot {name!r} in this home")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/admin/models/versions", response_model=list[VersionView])
async def ops_versions(
    _scope: AdminScope, gateway: CurrentGateway, kind: Literal["recall", "rank"] = "rank"
) -> list[VersionView]:
    """The newest registered versions of `kind` with the gate's newest verdict on each."""
    return await asyncio.to_thread(versions, gateway.settings, kind)


@router.get("/admin/abtest", response_model=AbReport)
async def ops_abtest(
    _scope: AdminScope,
    gateway: CurrentGateway,
    window_hours: float = Query(24.0, gt=0, le=24 * 30),
) -> AbReport:
    """`starling abtest report`: per variant, click-through and rating rates after an
    impression with 95 % Wilson intervals, from the events landed in the lake."""
    window = timedelta(hours=window_hours)
    return await asyncio.to_thread(ab_report, gateway.settings, window)


@router.get("/admin/traffic", response_model=list[TrafficPoint])
async def ops_traffic(_scope: AdminScope, gateway: CurrentGateway) -> list[TrafficPoint]:
    """/recommend answers per second and their p50/p99 over the last two minutes, as the
    Gateway replica answering sees them."""
    return gateway.metrics.recent.points()


@router.get("/admin/ray-dashboard", response_model=RayDashboard)
async def ops_ray_dashboard(_scope: AdminScope) -> RayDashboard:
    """The address Ray's dashboard registered when it started (`starling up --dashboard`, or
    the cluster's own); None when it does not run or this process is not in a Ray cluster."""
    return RayDashboard(url=await asyncio.to_thread(_dashboard_url))


def _dashboard_url() -> str | None:
    if not ray.is_initialized():
        return None
    key, namespace = _DASHBOARD_KEY
    found = internal_kv._internal_kv_get(key, namespace=namespace)
    if not found:
        return None
    url = found.decode()
    return url if "://" in url else f"http://{url}"
