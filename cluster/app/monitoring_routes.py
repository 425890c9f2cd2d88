"""What monitoring reads from a Gateway replica: health, Prometheus metrics and the event
stream's landing status (the EventLander's, asked through this replica)."""

import contextlib

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from ray.exceptions import RayError

from cluster.app.auth import AdminScope
from cluster.app.replica import CurrentGateway
from core.api import Health
from ingest.stream.landing_totals import LandingStatus

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(gateway: CurrentGateway) -> PlainTextResponse:
    """Prometheus text format: requests, latency per stage, items served, degradations, and the
    event stream's length and landing totals (as last seen while the EventLander is away)."""
    with contextlib.suppress(RayError):
        gateway.metrics.observe_stream(await gateway.lander.status.remote())
    return PlainTextResponse(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/admin/stream", response_model=LandingStatus)
async def stream_status(_scope: AdminScope, gateway: CurrentGateway) -> LandingStatus:
    """The event stream's length and what the EventLander landed, quarantined and lost."""
    try:
        return await gateway.lander.status.remote()
    except RayError as error:
        raise HTTPException(503, f"the EventLander does not answer: {error}") from None


@router.get("/healthz", response_model=Health)
async def healthz(gateway: CurrentGateway, response: Response) -> Health:
    """200 once every deployment of the app is healthy, 503 before; while the Gateway cannot
    reach Redis, 200 with status "degraded" and redis "down" (see cluster/app/health.py)."""
    health, response.status_code = await gateway.health.current()
    return health
