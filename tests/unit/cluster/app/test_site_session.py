"""The site's session cookie and sign-in links: what is accepted and what is refused."""

from __future__ import annotations

import base64
import json
import stat
import threading
from pathlib import Path

import pytest

from cluster.app.site_session import (
    SECRET_FILE,
    SessionSigner,
    SignInGrant,
    SiteSession,
    home_secret,
)

SECRET = b"0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_signed_session_reads_back_until_it_expires() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, clock)
    session = signer.new_session(42, ttl_s=60)
    token = signer.sign("session", session)
    assert signer.read("session", token, SiteSession) == session
    clock.now += 59
    assert signer.read("session", token, SiteSession) == session
    clock.now += 1
    assert signer.read("session", token, SiteSession) is None


def test_a_session_for_another_user_cannot_be_made_from_a_valid_one() -> None:
    signer = SessionSigner(SECRET, Clock())
    token = signer.sign("session", signer.new_session(42, ttl_s=60))
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["user_id"] = 7
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert signer.read("session", f"{forged_body}.{signature}", SiteSession) is None


def test_tokens_of_another_secret_or_purpose_and_garbage_are_refused() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, clock)
    other = SessionSigner(b"another secret of 32 bytes......", clock)
    session = signer.new_session(42, ttl_s=60)
    assert signer.read("session", other.sign("session", session), SiteSession) is None
    # A sign-in link's token is no cookie, and a cookie is no sign-in link.
    grant = signer.grant(42, ttl_s=60)
    assert signer.read("session", signer.sign("sign-in", grant), SiteSession) is None
    assert signer.read("sign-in", signer.sign("session", session), SignInGrant) is None
    assert signer.read("sign-in", signer.sign("sign-in", grant), SignInGrant) == grant
    for garbage in (None, "", ".", "a.b", "a.b.c", "!!!.???", token_without_signature(signer)):
        assert signer.read("session", garbage, SiteSession) is None


def token_without_signature(signer: SessionSigner) -> str:
    return signer.sign("session", signer.new_session(1, 60)).split(".")[0] + "."


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SessionSigner(b"short")


def test_the_home_secret_is_made_once_private_and_shared(tmp_path: Path) -> None:
    found: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: found.append(home_secret(tmp_path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) == 64
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]
    assert home_secret(tmp_path) == found[0]
