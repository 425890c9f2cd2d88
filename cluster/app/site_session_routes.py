"""The site's sessions and its one write: a signed-in browser posts events for its own user.

How one signs in:
- as a new visitor with a fresh id (`POST /site/session {"new_visitor": true}`), in any mode
  unless `site.new_visitors` is off: a newcomer gets a cold-start list that turns personal as
  they rate, and the fresh id has no one's data to read or to write for;
- demo mode (`public_user_data` on): also as any user id, as on SparrowRecSys's site;
- otherwise through a sign-in link (`GET /sign-in?token=...`) that a write-key holder mints
  with `POST /site/sign-in-links`, as a client's backend would after its own login.

The browser holds the signed session in an HttpOnly cookie and never an API key; the events
route takes the user from the session, never from the body, and is rate-limited per session.
"""

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cluster.app.api_keys import Scope
from cluster.app.auth import WriteScope
from cluster.app.rate_limit import TokenBuckets
from cluster.app.site_routes import CurrentSiteGateway
from cluster.app.site_session import (
    SignInGrant,
    SiteSession,
    clear_session_cookie,
    session_of,
    set_session_cookie,
    signer_of,
)
from core.api import MAX_ID
from core.event_api import EventBatch, EventIn, EventsAccepted
from core.settings import Settings

router = APIRouter(tags=["site"])
# New visitors get ids far above MovieLens' and the synthetic sets' (a few hundred thousand),
# so that they start with no history.
VISITOR_IDS = (10**12, 2 * 10**12)
_SIGN_INS = "sign-ins"


class SessionView(BaseModel):
    """Who the browser is signed in as, and how this site lets one sign in."""

    signed_in: bool
    user_id: int | None = None
    visitor: bool = Field(False, description="a new visitor the site gave a fresh id")
    demo: bool = Field(description="anyone may sign in as any user and open any user's page")
    new_visitors: bool = Field(description="anyone may start as a new visitor with a fresh id")


class SignIn(BaseModel):
    """`POST /site/session`: a user id (demo mode), or `new_visitor`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: int | None = Field(None, ge=0, le=MAX_ID)
    new_visitor: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> "SignIn":
        if (self.user_id is None) != self.new_visitor:
            raise ValueError("give user_id or new_visitor: true")
        return self


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: int = Field(ge=0, le=MAX_ID)


class SignInLink(BaseModel):
    url: str = Field(description="the site's sign-in address, to open in the user's browser")
    expires: int = Field(description="Unix time after which the link no longer signs in")


class SiteEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    item_id: int = Field(ge=0, le=MAX_ID)
    event_type: Literal["rating", "click", "view"]
    value: float = Field(1.0, allow_inf_nan=False, description="the rating; 1 for click, view")


class SiteEvents(BaseModel):
    """`POST /site/events`: the signed-in user's events (the user comes from the session)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[SiteEvent] = Field(min_length=1, max_length=20)


_limits: dict[tuple[int, float, float], tuple[TokenBuckets, TokenBuckets]] = {}


def limits_of(settings: Settings) -> tuple[TokenBuckets, TokenBuckets]:
    """This replica's token buckets of the settings' limits: per session for events, one for
    the sign-ins of the whole replica."""
    site = settings.site
    key = (site.events_burst, site.events_per_minute, site.sign_ins_per_minute)
    if key not in _limits:
        sign_ins = TokenBuckets(
            max(1, int(site.sign_ins_per_minute)), site.sign_ins_per_minute / 60
        )
        _limits[key] = (TokenBuckets(site.events_burst, site.events_per_minute / 60), sign_ins)
    return _limits[key]


def _refuse_if_limited(wait_s: float, what: str) -> None:
    if wait_s > 0:
        retry = str(max(1, round(wait_s))) if wait_s != float("inf") else "60"
        raise HTTPException(429, f"too many {what}: try again in {retry} s", {"Retry-After": retry})


async def json_body(content_type: Annotated[str | None, Header()] = None) -> None:
    """Writes must be JSON: a page of another site cannot send that without the browser asking
    first (CORS), on top of the cookie's SameSite=Lax."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send Content-Type: application/json")


JsonBody = Depends(json_body)


def _view(session: SiteSession | None, settings: Settings) -> SessionView:
    modes = {"demo": settings.public_user_data, "new_visitors": settings.site.new_visitors}
    if session is None:
        return SessionView(signed_in=False, **modes)
    return SessionView(signed_in=True, user_id=session.user_id, visitor=session.visitor, **modes)


def _open_session(
    response: Response, settings: Settings, user_id: int, visitor: bool
) -> SessionView:
    _refuse_if_limited(limits_of(settings)[1].take(_SIGN_INS), "sign-ins")
    signer = signer_of(settings)
    session = signer.new_session(user_id, settings.site.session_ttl_s, visitor)
    set_session_cookie(response, signer.sign("session", session), settings)
    return _view(session, settings)


@router.get("/site/session", response_model=SessionView)
async def session(request: Request, gateway: CurrentSiteGateway) -> SessionView:
    """Who this browser is signed in as."""
    return _view(session_of(request, gateway.settings), gateway.settings)


@router.post("/site/session", response_model=SessionView, dependencies=[JsonBody])
async def sign_in(body: SignIn, response: Response, gateway: CurrentSiteGateway) -> SessionView:
    """Start as a new visitor with a fresh id (unless `site.new_visitors` is off), or, in demo
    mode only, sign in as any user."""
    settings = gateway.settings
    if body.user_id is not None:
        if not settings.public_user_data:
            raise HTTPException(403, "sign in through a sign-in link (demo mode is off)")
        return _open_session(response, settings, body.user_id, visitor=False)
    if not settings.site.new_visitors:
        raise HTTPException(403, "new visitors are off here: sign in through a sign-in link")
    visitor_id = VISITOR_IDS[0] + secrets.randbelow(VISITOR_IDS[1] - VISITOR_IDS[0])
    return _open_session(response, settings, visitor_id, visitor=True)


@router.delete("/site/session", response_model=SessionView)
async def sign_out(response: Response, gateway: CurrentSiteGateway) -> SessionView:
    clear_session_cookie(response, gateway.settings)
    return _view(None, gateway.settings)


@router.post("/site/sign-in-links", response_model=SignInLink)
async def sign_in_link(
    body: LinkRequest, _scope: WriteScope, gateway: CurrentSiteGateway
) -> SignInLink:
    """A link that signs its opener in as `user_id` (needs a write key): what a client's
    backend hands its logged-in user. It works, as often as it is opened, until it expires."""
    signer = signer_of(gateway.settings)
    grant = signer.grant(body.user_id, gateway.settings.site.sign_in_link_ttl_s)
    return SignInLink(url=f"/sign-in?token={signer.sign('sign-in', grant)}", expires=grant.expires)


@router.get("/sign-in", include_in_schema=False)
async def follow_sign_in_link(
    gateway: CurrentSiteGateway, token: str = Query(max_length=1000)
) -> RedirectResponse:
    grant = signer_of(gateway.settings).read("sign-in", token, SignInGrant)
    if grant is None:
        raise HTTPException(401, "this sign-in link is not valid or has expired")
    response = RedirectResponse(f"/user/{grant.user_id}", status_code=303)
    _open_session(response, gateway.settings, grant.user_id, visitor=False)
    return response


@router.post("/site/events", response_model=EventsAccepted, dependencies=[JsonBody])
async def site_events(
    body: SiteEvents, request: Request, gateway: CurrentSiteGateway
) -> EventsAccepted:
    """Record the signed-in user's ratings, clicks and views, through the same path as
    `POST /events`: the next recommendations see them at once. 401 without a session, 429
    past the session's rate limit."""
    settings = gateway.settings
    found = session_of(request, settings)
    if found is None:
        raise HTTPException(401, "sign in first: no valid session")
    events_bucket = limits_of(settings)[0]
    _refuse_if_limited(events_bucket.take(found.session_id, len(body.events)), "events")
    batch = EventBatch(
        events=[EventIn(user_id=found.user_id, **event.model_dump()) for event in body.events]
    )
    return await gateway.events(batch, Scope.WRITE)
