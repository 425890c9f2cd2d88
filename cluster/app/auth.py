"""API keys for write and admin routes: `Authorization: Bearer <key>`, keys from Settings.

Ray's own token does not protect Serve's HTTP port, so the Gateway checks its callers itself.
Use `Depends(require(Scope.WRITE))` (or ADMIN) on a route; an admin key may do everything a
write key may. The keys come from the Gateway replica running the route (its `api_keys`), so a
plain FastAPI app can override `current_api_keys` instead.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cluster.app.api_keys import ApiKeys, Scope
from cluster.app.replica import CurrentGateway
from cluster.app.site_session import session_of

_bearer = HTTPBearer(auto_error=False, description="an API key from STARLING_*_API_KEYS")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_api_keys(gateway: CurrentGateway) -> ApiKeys:
    """The keys of the Gateway replica running the route."""
    return gateway.api_keys


Keys = Annotated[ApiKeys, Depends(current_api_keys)]


async def caller_scope(credentials: Bearer, keys: Keys) -> Scope | None:
    """The caller's scope on a public route; None without a valid key."""
    return None if credentials is None else keys.scope_of(credentials.credentials)


def require(needed: Scope) -> Callable[..., Awaitable[Scope]]:
    """A dependency that lets a request through only with a key of scope `needed`:
    401 without a key or with an unknown one, 403 with a key of a lower scope."""

    async def dependency(credentials: Bearer, keys: Keys) -> Scope:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise HTTPException(401, "missing API key: send Authorization: Bearer <key>", challenge)
        scope = keys.scope_of(credentials.credentials)
        if scope is None:
            raise HTTPException(401, "unknown API key", challenge)
        if not keys.allows(scope, needed):
            raise HTTPException(403, f"this route needs an API key of scope {needed}")
        return scope

    return dependency


async def user_data_access(
    request: Request, credentials: Bearer, keys: Keys, gateway: CurrentGateway
) -> None:
    """Who may read the history of the route's `user_id`: a write or admin key (the client's
    backend), the user's own site session, or anyone while the demo setting `public_user_data`
    is on, for exploring a MovieLens set through its users, as SparrowRecSys's site does."""
    if gateway.settings.public_user_data:
        return
    session = session_of(request, gateway.settings)
    if session is not None and credentials is None:
        if str(session.user_id) != request.path_params.get("user_id"):
            raise HTTPException(403, f"signed in as user {session.user_id}: only their own data")
        return
    await require(Scope.WRITE)(credentials, keys)


CallerScope = Annotated[Scope | None, Depends(caller_scope)]
WriteScope = Annotated[Scope, Depends(require(Scope.WRITE))]
AdminScope = Annotated[Scope, Depends(require(Scope.ADMIN))]
UserDataAccess = Depends(user_data_access)
