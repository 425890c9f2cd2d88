"""API keys for a home that configures none: generated once into the home, reused after.

Without keys the ops page and the write routes answer 401, so a first `make run` could not open
`/ops` without a stop, an edit of `.env` and a restart. The keys reach the Serve replicas as the
configured ones do: through the local Ray's environment (`session.share_api_keys`), never
through the Serve config.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pydantic import BaseModel, SecretStr

from core.settings import Settings

KEYS_FILE = "keys.json"
# Owner read and write only: the file holds an admin key.
KEYS_MODE = 0o600
KEY_BYTES = 32


class LocalKeys(BaseModel):
    """The admin and write key a home generated for itself, and the file that holds them."""

    admin: SecretStr
    write: SecretStr
    path: Path


class _KeysFile(BaseModel):
    admin: str
    write: str


def keys_path(home: Path) -> Path:
    return home / KEYS_FILE


def _generate(path: Path) -> None:
    keys = _KeysFile(admin=secrets.token_urlsafe(KEY_BYTES), write=secrets.token_urlsafe(KEY_BYTES))
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL with the mode at creation: the keys are never readable by others, not even for the
    # moment between writing and a chmod.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYS_MODE)
    with os.fdopen(descriptor, "w") as out:
        out.write(keys.model_dump_json(indent=2) + "\n")


def _read(path: Path) -> _KeysFile:
    # A copy or an unpacked backup may have widened the mode: narrow it again.
    if stat.S_IMODE(path.stat().st_mode) & ~KEYS_MODE:
        path.chmod(KEYS_MODE)
    return _KeysFile.model_validate_json(path.read_text())


def ensure_local_keys(settings: Settings) -> tuple[Settings, LocalKeys | None]:
    """`settings` with the home's own keys when none are configured, and those keys.

    Configured keys (environment, `.env`) win and nothing is generated. Against an existing
    cluster (RAY_ADDRESS) nothing is generated either: its replicas read keys from their own
    nodes' environment, which this process cannot reach.
    """
    if settings.admin_api_keys or settings.write_api_keys or settings.ray_address:
        return settings, None
    path = keys_path(settings.home)
    if not path.is_file():
        _generate(path)
    stored = _read(path)
    keys = LocalKeys(admin=SecretStr(stored.admin), write=SecretStr(stored.write), path=path)
    updated = settings.model_copy(
        update={"admin_api_keys": [keys.admin], "write_api_keys": [keys.write]}
    )
    return updated, keys
