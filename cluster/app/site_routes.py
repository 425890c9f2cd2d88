"""The movie site's pages and files, and `GET /recommend/{user_id}` (the POST's answer, for a
browser's address bar and the site's scripts).

Every page is the same static HTML: its scripts read the address and fill it from the JSON API,
so the pages hold no data and need no build step. The files ship in the package
(cluster/app/web/site) and are read from disk on each request.
"""

from pathlib import Path as FilePath
from typing import Annotated, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse, HTMLResponse

from cluster.app.api_keys import Scope
from cluster.app.auth import CallerScope
from cluster.app.replica import CurrentGateway, GatewayReplica
from core.api import MAX_ID, MAX_NAME_CHARS, RecommendRequest, RecommendResponse
from core.event_api import EventBatch, EventsAccepted

SITE = FilePath(__file__).with_name("web") / "site"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

router = APIRouter()


@runtime_checkable
class SiteGateway(GatewayReplica, Protocol):
    """The Gateway's own routes that the site's routes call, so that a rating from the site
    takes the same path as a `POST /events` and a list the same as a `POST /recommend`."""

    async def recommend(
        self, request: RecommendRequest, scope: Scope | None
    ) -> RecommendResponse: ...

    async def events(self, batch: EventBatch, _scope: Scope) -> EventsAccepted: ...


async def current_site_gateway(gateway: CurrentGateway) -> SiteGateway:
    if not isinstance(gateway, SiteGateway):
        raise TypeError(f"{type(gateway).__name__} has no recommend and events routes")
    return gateway


CurrentSiteGateway = Annotated[SiteGateway, Depends(current_site_gateway)]


def _page() -> HTMLResponse:
    return HTMLResponse((SITE / "index.html").read_text())


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home_page() -> HTMLResponse:
    return _page()


@router.get("/movie/{item_id}", response_class=HTMLResponse, include_in_schema=False)
async def movie_page(item_id: int) -> HTMLResponse:
    return _page()


@router.get("/user/{user_id}", response_class=HTMLResponse, include_in_schema=False)
async def user_page(user_id: int) -> HTMLResponse:
    return _page()


@router.get("/genre/{genre}", response_class=HTMLResponse, include_in_schema=False)
async def genre_page(genre: str) -> HTMLResponse:
    return _page()


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
async def search_page() -> HTMLResponse:
    return _page()


@router.get("/new", response_class=HTMLResponse, include_in_schema=False)
async def new_visitor_page() -> HTMLResponse:
    return _page()


@router.get("/assets/{name}", include_in_schema=False)
async def asset(name: str = Path(pattern=r"^[a-z][a-z0-9-]*\.[a-z]+$")) -> FileResponse:
    """The site's scripts, style sheet and pictures; only files of the site's folder."""
    path = SITE / name
    if path.suffix not in ASSET_TYPES or not path.is_file():
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(path, media_type=ASSET_TYPES[path.suffix])


@router.get(
    "/recommend/{user_id}",
    response_model=RecommendResponse,
    response_model_exclude_none=True,
    tags=["recommend"],
)
async def recommend_get(
    scope: CallerScope,
    gateway: CurrentSiteGateway,
    user_id: int = Path(ge=0, le=MAX_ID),
    k: int = Query(10, ge=1, description="how many items (at most Settings.max_k)"),
    genre: str | None = Query(None, max_length=MAX_NAME_CHARS),
    debug: bool = Query(False, description="include the per-stage trace and each item's why"),
) -> RecommendResponse:
    """The same answer as `POST /recommend` with this body, for a browser's address bar."""
    request = RecommendRequest(user_id=user_id, k=k, genre=genre, debug=debug)
    return await gateway.recommend(request, scope)
