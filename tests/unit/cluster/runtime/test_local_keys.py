"""A home without configured API keys makes its own once, readable by its owner only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from cluster.app.api_keys import ApiKeys, Scope
from cluster.runtime.local_keys import KEYS_FILE, ensure_local_keys
from core.settings import Settings


@pytest.fixture(autouse=True)
def _no_configured_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("STARLING_ADMIN_API_KEYS", "STARLING_WRITE_API_KEYS", "RAY_ADDRESS"):
        monkeypatch.delenv(variable, raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_writes_an_admin_and_a_write_key_only_the_owner_may_read(
    tmp_path: Path,
) -> None:
    settings, keys = ensure_local_keys(Settings(home=tmp_path / "home"))
    assert keys is not None
    assert keys.path == tmp_path / "home" / KEYS_FILE
    assert _mode(keys.path) == 0o600
    stored = json.loads(keys.path.read_text())
    assert stored == {
        "admin": keys.admin.get_secret_value(),
        "write": keys.write.get_secret_value(),
    }
    assert len(stored["admin"]) >= 32 and stored["admin"] != stored["write"]
    # The Gateway builds its keys from these settings: the admin key opens admin routes.
    api_keys = ApiKeys.from_settings(settings)
    assert api_keys.scope_of(stored["admin"]) == Scope.ADMIN
    assert api_keys.scope_of(stored["write"]) == Scope.WRITE


def test_later_starts_reuse_the_keys(tmp_path: Path) -> None:
    _, first = ensure_local_keys(Settings(home=tmp_path))
    _, again = ensure_local_keys(Settings(home=tmp_path))
    assert first is not None and again is not None
    assert again.admin.get_secret_value() == first.admin.get_secret_value()
    assert again.write.get_secret_value() == first.write.get_secret_value()


def test_a_widened_keys_file_is_narrowed_again(tmp_path: Path) -> None:
    _, keys = ensure_local_keys(Settings(home=tmp_path))
    assert keys is not None
    keys.path.chmod(0o644)
    ensure_local_keys(Settings(home=tmp_path))
    assert _mode(keys.path) == 0o600


@pytest.mark.parametrize(
    "configured",
    [
        {"admin_api_keys": [SecretStr("mine")]},
        {"write_api_keys": [SecretStr("mine")]},
        {"ray_address": "ray://head:10001"},
    ],
)
def test_nothing_is_generated_when_keys_are_configured_or_the_cluster_is_not_ours(
    tmp_path: Path, configured: dict[str, object]
) -> None:
    given = Settings(home=tmp_path, **configured)
    settings, keys = ensure_local_keys(given)
    assert keys is None
    assert settings == given
    assert not (tmp_path / KEYS_FILE).exists()


def test_keys_set_in_the_environment_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARLING_ADMIN_API_KEYS", json.dumps(["from-env"]))
    settings, keys = ensure_local_keys(Settings(home=tmp_path))
    assert keys is None
    assert [k.get_secret_value() for k in settings.admin_api_keys] == ["from-env"]
    assert not (tmp_path / KEYS_FILE).exists()
