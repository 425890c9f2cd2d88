"""The configured API keys and their scopes, compared in constant time."""

import hmac
from enum import StrEnum

from pydantic import SecretStr

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
