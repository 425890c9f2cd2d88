"""The movie site's sessions: HMAC-signed tokens in an HttpOnly cookie, and sign-in links.

A token is `<payload>.<signature>`, both base64url: the payload is the JSON of a pydantic
model, the signature HMAC-SHA256 over a purpose and the payload, so that a sign-in link cannot
be used as a cookie, nor a cookie as a link. Nothing is stored on the server: a token is valid
while its signature holds and it has not expired, on any replica that has the same secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from core.settings import Settings

SESSION_COOKIE = "starling_session"
SECRET_FILE = "site_session.key"
Purpose = Literal["session", "sign-in"]


class SiteSession(BaseModel):
    """Who the browser is signed in as, until when."""

    user_id: int
    session_id: str
    visitor: bool = False
    expires: int


class SignInGrant(BaseModel):
    """A sign-in link's payload: the user it signs in as, until when it may be used."""

    user_id: int
    expires: int


Payload = TypeVar("Payload", SiteSession, SignInGrant)


class SessionSigner:
    """Signs and checks tokens with one secret; `now` is the clock in Unix seconds."""

    def __init__(self, secret: bytes, now: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("a session secret needs at least 16 bytes")
        self._secret = secret
        self._now = now

    def sign(self, purpose: Purpose, payload: SiteSession | SignInGrant) -> str:
        body = _b64(payload.model_dump_json().encode())
        return f"{body}.{_b64(self._mac(purpose, body))}"

    def read(self, purpose: Purpose, token: str | None, model: type[Payload]) -> Payload | None:
        """The payload of a token signed for `purpose` that has not expired; None for anything
        else (missing, malformed, forged, signed for another purpose, expired)."""
        if not token or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        try:
            given = base64.urlsafe_b64decode(_padded(signature))
            payload = model.model_validate_json(base64.urlsafe_b64decode(_padded(body)))
        except (ValueError, ValidationError):
            return None
        if not hmac.compare_digest(given, self._mac(purpose, body)):
            return None
        return payload if payload.expires > self._now() else None

    def new_session(self, user_id: int, ttl_s: int, visitor: bool = False) -> SiteSession:
        return SiteSession(
            user_id=user_id,
            session_id=uuid.uuid4().hex,
            visitor=visitor,
            expires=int(self._now()) + ttl_s,
        )

    def grant(self, user_id: int, ttl_s: int) -> SignInGrant:
        return SignInGrant(user_id=user_id, expires=int(self._now()) + ttl_s)

    def _mac(self, purpose: Purpose, body: str) -> bytes:
        return hmac.new(self._secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def home_secret(home: Path) -> bytes:
    """The home's generated secret, made on first use (mode 600). Replicas starting together
    race for it: each writes its own candidate and links it into place, and the first link
    wins, so that all of them read the same key."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        candidate = home / f".{SECRET_FILE}.{uuid.uuid4().hex}"
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text().strip().encode()


_signers: dict[tuple[Path, str | None], SessionSigner] = {}


def signer_of(settings: Settings) -> SessionSigner:
    """The signer of the configured secret, or of the home's generated one; one per process."""
    configured = settings.site.session_secret
    key = (settings.home, configured.get_secret_value() if configured else None)
    if key not in _signers:
        secret = key[1].encode() if key[1] else home_secret(settings.home)
        _signers[key] = SessionSigner(secret)
    return _signers[key]


def session_of(request: Request, settings: Settings) -> SiteSession | None:
    """The request's valid session, if its cookie holds one."""
    token = request.cookies.get(SESSION_COOKIE)
    # No cookie, no secret needed: a request without one never creates the home's key file.
    return signer_of(settings).read("session", token, SiteSession) if token else None


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    # HttpOnly: the page's scripts never see the token; Lax: other sites' forms and scripts
    # do not send it with their POSTs.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.site.session_ttl_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.site.cookie_secure,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.site.cookie_secure,
    )
