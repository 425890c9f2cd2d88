"""Milvus credentials: one form or the other, read from the environment, never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.milvus_settings import MilvusSettings
from core.settings import Settings


def test_a_user_and_password_are_sent_as_one_token() -> None:
    credentials = MilvusSettings(user="starling", password="pw-1").credentials()
    assert credentials is not None and credentials.get_secret_value() == "starling:pw-1"
    assert MilvusSettings().credentials() is None


def test_the_token_is_read_from_the_environment_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STARLING_MILVUS__TOKEN", "starling:pw-2")
    settings = Settings(_env_file=None)
    token = settings.milvus.credentials()
    assert token is not None and token.get_secret_value() == "starling:pw-2"
    assert "pw-2" not in repr(settings) and "pw-2" not in str(settings.model_dump())


@pytest.mark.parametrize(
    "fields",
    [
        {"user": "starling"},
        {"password": "pw-3"},
        {"token": "starling:pw-3", "user": "starling", "password": "pw-3"},
    ],
)
def test_half_or_both_forms_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="Milvus"):
        MilvusSettings.model_validate(fields)
