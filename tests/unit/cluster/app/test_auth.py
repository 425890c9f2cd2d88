from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cluster.app.auth import (
    AdminScope,
    ApiKeys,
    CallerScope,
    Scope,
    UserDataAccess,
    WriteScope,
    current_api_keys,
)
from cluster.app.replica import current_gateway
from core.settings import Settings

KEYS = ApiKeys(write=[SecretStr("w-key")], admin=[SecretStr("a-key"), SecretStr("a-key-2")])


def _client(keys: ApiKeys = KEYS) -> TestClient:
    app = FastAPI()

    @app.post("/write")
    async def write(scope: WriteScope) -> str:
        return scope

    @app.post("/admin")
    async def admin(scope: AdminScope) -> str:
        return scope

    @app.get("/public")
    async def public(scope: CallerScope) -> str | None:
        return scope

    async def keys_of_test() -> ApiKeys:
        return keys

    app.dependency_overrides[current_api_keys] = keys_of_test
    return TestClient(app)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_missing_and_unknown_keys_get_401_with_a_bearer_challenge() -> None:
    client = _client()
    for headers in ({}, _bearer("nope"), {"Authorization": "Basic dzprZXk="}, _bearer("w-ke")):
        answer = client.post("/write", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "key" in answer.json()["detail"]


def test_a_write_key_cannot_use_admin_routes() -> None:
    answer = _client().post("/admin", headers=_bearer("w-key"))
    assert answer.status_code == 403
    assert "admin" in answer.json()["detail"]


def test_admin_keys_pass_admin_and_write_routes() -> None:
    client = _client()
    assert client.post("/write", headers=_bearer("w-key")).json() == "write"
    for key in ("a-key", "a-key-2"):
        assert client.post("/admin", headers=_bearer(key)).json() == "admin"
        assert client.post("/write", headers=_bearer(key)).json() == "admin"


def test_without_configured_keys_nothing_gets_in() -> None:
    client = _client(ApiKeys(write=[], admin=[]))
    assert client.post("/write", headers=_bearer("")).status_code == 401
    assert client.post("/write", headers=_bearer("anything")).status_code == 401


def test_public_routes_learn_the_callers_scope_without_refusing() -> None:
    client = _client()
    assert client.get("/public").json() is None
    assert client.get("/public", headers=_bearer("wrong")).json() is None
    assert client.get("/public", headers=_bearer("a-key")).json() == Scope.ADMIN


def _user_data_client(public_user_data: bool) -> TestClient:
    app = FastAPI()

    @app.get("/users/1", dependencies=[UserDataAccess])
    async def user() -> str:
        return "history"

    settings = Settings(public_user_data=public_user_data)

    async def gateway_of_test() -> SimpleNamespace:
        return SimpleNamespace(settings=settings, api_keys=KEYS)

    app.dependency_overrides[current_gateway] = gateway_of_test
    return TestClient(app)


def test_a_users_history_needs_a_key_unless_the_demo_setting_is_on() -> None:
    private = _user_data_client(public_user_data=False)
    assert private.get("/users/1").status_code == 401
    assert private.get("/users/1", headers=_bearer("nope")).status_code == 401
    for key in ("w-key", "a-key"):
        assert private.get("/users/1", headers=_bearer(key)).json() == "history"
    assert _user_data_client(public_user_data=True).get("/users/1").json() == "history"
