"""What `starling up` and `serve` print once the app answers: where the site, the ops page, the
keys and Ray's dashboard are."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from cluster.cli.serve_commands import Endpoints, announce, endpoints
from cluster.runtime.local_keys import ensure_local_keys
from cluster.runtime.local_ray import forget_dashboard, record_dashboard
from core.settings import Settings

URL = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _no_configured_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("STARLING_ADMIN_API_KEYS", "STARLING_WRITE_API_KEYS", "RAY_ADDRESS"):
        monkeypatch.delenv(variable, raising=False)


def test_a_first_run_says_where_the_site_the_ops_page_and_the_keys_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, keys = ensure_local_keys(Settings(home=tmp_path))
    announce(endpoints(settings, URL, keys), as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Starling is up at {URL}  (Ctrl-C stops it)"
    assert f"  movie site     {URL}/" in lines
    assert f"  ops page       {URL}/ops" in lines
    assert any(line.startswith(f"  API keys       {tmp_path / 'keys.json'} ") for line in lines)
    assert not any("Ray dashboard" in line for line in lines)


def test_the_dashboard_line_shows_while_one_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=tmp_path, ray_dashboard=True)
    record_dashboard(settings, "127.0.0.1:8265")
    announce(endpoints(settings, URL, None), as_json=False)
    forget_dashboard(settings)
    shown = capsys.readouterr().out
    assert "  Ray dashboard  http://127.0.0.1:8265  (asks for Ray's token" in shown


def test_configured_keys_are_named_and_their_values_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=tmp_path, admin_api_keys=[SecretStr("s3cret-admin")])
    announce(endpoints(settings, URL, None), as_json=False)
    shown = capsys.readouterr().out
    assert "the configured STARLING_ADMIN_API_KEYS" in shown
    assert "s3cret" not in shown


def test_with_json_the_endpoints_are_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, keys = ensure_local_keys(Settings(home=tmp_path))
    announce(endpoints(settings, URL, keys), as_json=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    answer = Endpoints.model_validate_json(out)
    assert (answer.site, answer.ops, answer.dashboard) == (f"{URL}/", f"{URL}/ops", None)
    assert answer.keys_file == tmp_path / "keys.json"
    assert keys is not None and keys.admin.get_secret_value() not in out
