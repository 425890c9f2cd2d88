"""Settings of the movie site the Gateway serves at `/`: its session cookie and the rate limit
of the site's writes.

Kept apart from core/settings.py, which imports them, to keep files short.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class SiteSettings(BaseModel):
    """The site's sessions: a signed cookie that lets the browser post events for its own user
    only, so that it never holds an API key."""

    # exclude=True: the secret never reaches the Serve config's args (which the dashboard and
    # `serve status` show); replicas read it from their own environment, as the API keys.
    session_secret: SecretStr | None = Field(
        None,
        exclude=True,
        description="HMAC key that signs session cookies and sign-in links; every Gateway "
        "replica must have the same one. Unset: a random key generated once into "
        "<home>/site_session.key (mode 600), which replicas sharing the home read",
    )
    session_ttl_s: int = Field(
        7 * 86_400, ge=60, description="how long a session cookie stays valid"
    )
    sign_in_link_ttl_s: int = Field(
        600, ge=10, description="how long a sign-in link minted with a write key stays valid"
    )
    new_visitors: bool = Field(
        True,
        description="anyone may start at /new as a new visitor: a session with a fresh user id, "
        "above any dataset's, that may rate as that id only; off where every user comes from "
        "the client's own login (sign-in links)",
    )
    cookie_secure: bool = Field(
        False, description="mark the cookie Secure (sent over HTTPS only): on behind TLS"
    )
    events_burst: int = Field(
        20, ge=1, description="events one session may post at once before being slowed down"
    )
    events_per_minute: float = Field(
        30.0, gt=0, description="events a session may post per minute, once its burst is spent"
    )
    sign_ins_per_minute: float = Field(
        120.0,
        gt=0,
        description="sessions a Gateway replica opens per minute at most (burst: the same "
        "number), so new sessions cannot be minted to escape the per-session limit",
    )
