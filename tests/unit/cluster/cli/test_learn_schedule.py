"""`starling learn` with an interval keeps running the same job, one run per interval, and
outlives a run that found nothing new; without one it runs once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest

import cluster.control.deploy
import cluster.online.schedule
from cluster.cli import operator_commands
from cluster.cli.main import main
from rank_service.training.online_data import NothingNewError


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every run raises NothingNewError; the list gets each sleep's seconds, and the second
    sleep stops the loop as Ctrl-C would."""
    sleeps: list[float] = []

    @contextmanager
    def no_cluster(_settings: object) -> Iterator[bool]:
        yield False

    def nothing_new(*_args: object) -> None:
        raise NothingNewError("0 samples are newer")

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cluster.control.deploy, "connected", no_cluster)
    monkeypatch.setattr(operator_commands, "ray_runtime", lambda _settings: nullcontext())
    monkeypatch.setattr(cluster.online.schedule, "learn_rank", nothing_new)
    monkeypatch.setattr(cluster.online.schedule, "learn_recall", nothing_new)
    monkeypatch.setattr(operator_commands, "_sleep", sleep)
    return sleeps


def test_an_interval_repeats_the_job_until_stopped(
    runs: list[float], tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("STARLING_ONLINE__INTERVAL", "30")
    assert main(["learn", "--home", str(tmp_path)]) == 130
    assert runs == [30.0, 30.0]
    out = capsys.readouterr().out
    assert out.count("nothing learnt: rank: 0 samples are newer; recall: 0 samples") == 2


def test_without_an_interval_it_runs_once_and_fails_clearly(
    runs: list[float], tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["learn", "--home", str(tmp_path)]) == 1
    assert runs == []
    assert "0 samples are newer" in capsys.readouterr().err
