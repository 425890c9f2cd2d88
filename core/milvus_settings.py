"""Credentials for a Milvus server (MILVUS_URI) that runs with authorization enabled.

Kept apart from core/settings.py, which imports them, to keep files short.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator


class MilvusSettings(BaseModel):
    """Who Recall connects to a Milvus server as: a token, or a user and password. Milvus Lite
    has no authentication and is sent none."""

    user: str | None = Field(None, min_length=1, description="Milvus user, with `password`")
    # exclude=True: secrets never reach the Serve config's args (which the dashboard and
    # `serve status` show); replicas read them from their own environment, as the API keys.
    password: SecretStr | None = Field(None, exclude=True, description="that user's password")
    token: SecretStr | None = Field(
        None,
        exclude=True,
        description="instead of user and password: an API key, or `user:password`",
    )

    @model_validator(mode="after")
    def _one_form(self) -> MilvusSettings:
        if self.token is not None and (self.user is not None or self.password is not None):
            raise ValueError("set either the Milvus token or its user and password, not both")
        if (self.user is None) != (self.password is None):
            raise ValueError("set the Milvus user and password together")
        return self

    def credentials(self) -> SecretStr | None:
        """The token a Milvus server is sent (Milvus takes `user:password` as one), or None."""
        if self.token is not None:
            return self.token
        if self.user is not None and self.password is not None:
            return SecretStr(f"{self.user}:{self.password.get_secret_value()}")
        return None
