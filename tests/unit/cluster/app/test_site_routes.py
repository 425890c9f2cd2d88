"""The site's session routes on a plain FastAPI app: who may sign in how, what a session may
write, and the rate limit. The Gateway needs Ray; a stand-in records what its `recommend` and
`events` routes were asked (the e2e browser test drives the real ones)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.app.api_keys import ApiKeys, Scope
from cluster.app.auth import UserDataAccess
from cluster.app.replica import current_gateway
from cluster.app.site_routes import router as site_router
from cluster.app.site_session import SESSION_COOKIE, SessionSigner
from cluster.app.site_session_routes import VISITOR_IDS
from cluster.app.site_session_routes import router as session_router
from core.api import RecommendRequest, RecommendResponse
from core.event_api import EventBatch, EventsAccepted
from core.settings import Settings

SECRET = "a site secret for the unit tests"
WRITE = {"Authorization": "Bearer w-key"}


class StandInGateway:
    """What the site routes read of a Gateway replica, recording the calls of its routes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api_keys = ApiKeys(write=[SecretStr("w-key")], admin=[])
        self.batches: list[tuple[EventBatch, Scope]] = []
        self.requests: list[RecommendRequest] = []
        for name in ("live", "metrics", "lander", "catalog", "online_catalog", "store", "health"):
            setattr(self, name, None)

    async def recommend(self, request: RecommendRequest, scope: Scope | None) -> Any:
        self.requests.append(request)
        return RecommendResponse(user_id=request.user_id, items=[], cold_start=True)

    async def events(self, batch: EventBatch, _scope: Scope) -> EventsAccepted:
        self.batches.append((batch, _scope))
        return EventsAccepted(accepted=len(batch.events), event_ids=["e"] * len(batch.events))


def _site(tmp_path: Path, demo: bool, **site: Any) -> tuple[TestClient, StandInGateway]:
    settings = Settings(
        home=tmp_path, public_user_data=demo, site={"session_secret": SECRET, **site}
    )
    gateway = StandInGateway(settings)
    app = FastAPI()
    app.include_router(site_router)
    app.include_router(session_router)

    @app.get("/users/{user_id}", dependencies=[UserDataAccess])
    async def user(user_id: int) -> int:
        return user_id

    async def gateway_of_test() -> StandInGateway:
        return gateway

    app.dependency_overrides[current_gateway] = gateway_of_test
    return TestClient(app), gateway


def _rate(client: TestClient, item_id: int = 3, **extra: Any) -> Any:
    event = {"item_id": item_id, "event_type": "rating", "value": 4.5, **extra}
    return client.post("/site/events", json={"events": [event]})


def _signed_in_by_link(client: TestClient, user_id: int) -> None:
    link = client.post("/site/sign-in-links", json={"user_id": user_id}, headers=WRITE)
    assert link.status_code == 200, link.text
    opened = client.get(link.json()["url"], follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/user/{user_id}"
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_off_demo_mode_one_signs_in_only_through_a_link_minted_with_a_write_key(
    tmp_path: Path,
) -> None:
    client, gateway = _site(tmp_path, demo=False)
    assert client.post("/site/session", json={"user_id": 7}).status_code == 403
    assert client.post("/site/sign-in-links", json={"user_id": 7}).status_code == 401
    assert client.get("/sign-in", params={"token": "forged.token"}).status_code == 401
    assert _rate(client).status_code == 401
    _signed_in_by_link(client, 7)
    assert client.get("/site/session").json() == {
        "signed_in": True,
        "user_id": 7,
        "visitor": False,
        "demo": False,
        "new_visitors": True,
    }
    assert _rate(client).json()["accepted"] == 1
    batch, scope = gateway.batches[0]
    assert scope == Scope.WRITE
    assert [(e.user_id, e.item_id, e.value) for e in batch.events] == [(7, 3, 4.5)]
    # Its own history only; another user's needs a key.
    assert client.get("/users/7").json() == 7
    assert client.get("/users/8").status_code == 403
    assert client.get("/users/8", headers=WRITE).json() == 8


def test_a_session_cannot_post_for_another_user_nor_with_a_forged_or_expired_cookie(
    tmp_path: Path,
) -> None:
    client, gateway = _site(tmp_path, demo=False)
    _signed_in_by_link(client, 7)
    assert _rate(client, user_id=8).status_code == 422
    stranger = SessionSigner(b"the secret of another deployment")
    client.cookies.set(SESSION_COOKIE, stranger.sign("session", stranger.new_session(8, 60)))
    assert _rate(client).status_code == 401
    long_ago = SessionSigner(SECRET.encode(), lambda: time.time() - 3600)
    client.cookies.set(SESSION_COOKIE, long_ago.sign("session", long_ago.new_session(7, 60)))
    assert _rate(client).status_code == 401
    assert client.get("/users/7").status_code == 401
    assert gateway.batches == []


def test_writes_must_be_json(tmp_path: Path) -> None:
    client, gateway = _site(tmp_path, demo=True)
    client.post("/site/session", json={"user_id": 7})
    form = client.post(
        "/site/events",
        content='{"events": [{"item_id": 3, "event_type": "click"}]}',
        headers={"Content-Type": "text/plain"},
    )
    assert form.status_code == 415
    assert gateway.batches == []


def test_a_session_past_its_burst_is_told_to_wait_and_others_are_not(tmp_path: Path) -> None:
    client, gateway = _site(tmp_path, demo=True, events_burst=3, events_per_minute=1.0)
    client.post("/site/session", json={"user_id": 7})
    assert [_rate(client).status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = _rate(client)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    other, _ = _site(tmp_path, demo=True, events_burst=3, events_per_minute=1.0)
    other.post("/site/session", json={"user_id": 7})
    assert _rate(other).status_code == 200
    assert len(gateway.batches) == 3


def test_in_demo_mode_a_visitor_signs_in_as_anyone_or_as_someone_new(tmp_path: Path) -> None:
    client, _ = _site(tmp_path, demo=True)
    assert client.post("/site/session", json={"user_id": 5}).json()["user_id"] == 5
    assert client.get("/users/6").json() == 6
    visitor = client.post("/site/session", json={"new_visitor": True}).json()
    assert visitor["visitor"] is True and VISITOR_IDS[0] <= visitor["user_id"] < VISITOR_IDS[1]
    assert client.get("/site/session").json()["user_id"] == visitor["user_id"]
    assert client.post("/site/session", json={}).status_code == 422
    assert client.delete("/site/session").json()["signed_in"] is False
    assert client.get("/site/session").json()["signed_in"] is False


def test_off_demo_mode_a_new_visitor_gets_a_fresh_id_and_only_its_own_data(
    tmp_path: Path,
) -> None:
    client, gateway = _site(tmp_path, demo=False)
    visitor = client.post("/site/session", json={"new_visitor": True}).json()
    user_id = visitor["user_id"]
    assert visitor["visitor"] is True and VISITOR_IDS[0] <= user_id < VISITOR_IDS[1]
    assert _rate(client).json()["accepted"] == 1
    assert [e.user_id for e in gateway.batches[0][0].events] == [user_id]
    assert client.get(f"/users/{user_id}").json() == user_id
    assert client.get("/users/7").status_code == 403
    again = client.post("/site/session", json={"new_visitor": True}).json()["user_id"]
    assert again != user_id


def test_new_visitors_can_be_turned_off(tmp_path: Path) -> None:
    client, _ = _site(tmp_path, demo=False, new_visitors=False)
    assert client.post("/site/session", json={"new_visitor": True}).status_code == 403
    assert client.get("/site/session").json()["new_visitors"] is False
    assert _rate(client).status_code == 401


def test_get_recommend_asks_the_post_route_and_pages_and_assets_are_served(
    tmp_path: Path,
) -> None:
    client, gateway = _site(tmp_path, demo=False)
    answer = client.get("/recommend/12", params={"k": 5, "debug": "true", "genre": "Drama"})
    assert answer.json()["user_id"] == 12
    assert gateway.requests == [RecommendRequest(user_id=12, k=5, genre="Drama", debug=True)]
    assert client.get("/recommend/-1").status_code == 422
    for page in ("/", "/movie/3", "/user/7", "/genre/Drama", "/search?q=x", "/new"):
        assert '<script type="module" src="/assets/site.js">' in client.get(page).text
    assert client.get("/assets/site.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/assets/../site_routes.py").status_code == 404
    assert client.get("/assets/nothing.js").status_code == 404
