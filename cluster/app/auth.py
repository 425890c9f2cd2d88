"""API keys for write and admin routes: `Authorization: Bearer <key>`, keys from Settings.

Ray's own token does not protect Serve's HTTP port, so the Gateway checks its callers itself.
Use `Depends(require(Scope.WRITE))` (or ADMIN) on a route; an admin key may do everything a
write key may. The keys come from the replica running the route (its `api_keys`), so a plain
FastAPI app can override `current_api_keys` instead.
"""

import hmac
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from ray import serve

from core.settings import Settings


class Scope(StrEnum):
    WRITE = "write"
    ADMIN = "admin"


class ApiKeys:
    """The configured keys of each scope, compared in constant time."""

    def __init__(self, write: list[SecretStr], admin: list[SecretStr]) -> None:
        self._keys = [(k.get_secret_value().encode(), Scope.WRITE) for k in write] + [
            (k.get_secret_value().encode(), Scope.ADMIN) for k in admin
        ]

    @classmethod
    def from_settings(cls, settings: Settings) -> "ApiKeys":
        return cls(settings.write_api_keys, settings.admin_api_keys)

    def scope_of(self, token: str) -> Scope | None:
        """The scope of a presented key, or None. Every configured key is compared, so the
        time taken does not tell which key came close."""
        presented = token.encode()
        found: Scope | None = None
        for key, scope in self._keys:
            if hmac.compare_digest(presented, key) and found != Scope.ADMIN:
                found = scope
        return found

    def allows(self, scope: Scope | None, needed: Scope) -> bool:
        return scope == Scope.ADMIN or (scope is not None and scope == needed)


_bearer = HTTPBearer(auto_error=False, description="an API key from STARLING_*_API_KEYS")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_api_keys() -> ApiKeys:
    """The keys of the Serve replica running the route."""
    return serve.get_replica_context().servable_object.api_keys


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


CallerScope = Annotated[Scope | None, Depends(caller_scope)]
WriteScope = Annotated[Scope, Depends(require(Scope.WRITE))]
AdminScope = Annotated[Scope, Depends(require(Scope.ADMIN))]
