"""Which Milvus connections are sent credentials: a server's, never Milvus Lite's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from recall_service.index import milvus


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every MilvusClient the index code makes."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(milvus, "MilvusClient", lambda **kwargs: calls.append(kwargs))
    return calls


def test_a_server_is_sent_the_credentials(opened: list[dict[str, Any]]) -> None:
    milvus.connect("http://milvus:19530", SecretStr("starling:pw-4"))
    milvus.connect("http://milvus:19530")
    assert [call["token"] for call in opened] == ["starling:pw-4", ""]


def test_milvus_lite_which_has_no_authentication_is_sent_none(
    opened: list[dict[str, Any]],
) -> None:
    milvus.connect("/data/index/milvus.db", SecretStr("starling:pw-4"))
    assert opened == [{"uri": "/data/index/milvus.db"}]
