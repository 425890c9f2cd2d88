from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from core.settings import Settings

ENV_EXAMPLE = Path(__file__).parents[3] / ".env.example"


def _env_keys(model: type[BaseModel], prefix: str) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _env_keys(annotation, f"{prefix}{name.upper()}__")
        elif field.validation_alias is not None:
            keys.add(field.validation_alias.choices[0])  # type: ignore[union-attr]
        else:
            keys.add(f"{prefix}{name.upper()}")
    return keys


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert _env_keys(Settings, "STARLING_") <= documented


def test_environment_and_nested_keys_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARLING_TRAIN__WORKERS", "3")
    monkeypatch.setenv("REDIS_URL", "redis://example:1/0")
    settings = Settings(rank={"epochs": 7})
    assert settings.train.workers == 3
    assert settings.rank.epochs == 7
    assert settings.resolved_redis_url() == "redis://example:1/0"


def test_home_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(home=Path("rel")).home == tmp_path / "rel"


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(train={"workers": 0})
