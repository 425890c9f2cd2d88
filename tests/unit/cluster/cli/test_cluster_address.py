"""`--address` and RAY_ADDRESS point `starling` commands at an existing Ray cluster."""

from __future__ import annotations

import pytest

from cluster.cli.commands import settings_from
from cluster.cli.main import build_parser

ADDRESS = "ray://head:10001"


def _address(argv: list[str]) -> str | None:
    return settings_from(build_parser().parse_args(argv)).ray_address


def test_every_ray_command_takes_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for argv in (
        ["up", "--address", ADDRESS],
        ["serve", "--address", ADDRESS],
        ["ingest", "--address", ADDRESS],
        ["train", "rank", "--address", ADDRESS],
        ["--address", ADDRESS, "features"],
    ):
        assert _address(argv) == ADDRESS, argv
    assert _address(["up"]) is None, "without an address a local Ray starts"


def test_the_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert _address(["serve"]) == "10.0.0.5:6379"
    assert _address(["serve", "--address", ADDRESS]) == ADDRESS
