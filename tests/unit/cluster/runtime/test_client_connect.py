from typing import Any

import pytest

from cluster.runtime import session

FAILED = (
    "Initialization failure from server:\nRuntimeError: Starting Ray client server failed. "
    "See ray_client_server_23000.err for detailed logs."
)


def _init_failing(errors: list[Exception]) -> tuple[list[str], Any]:
    calls: list[str] = []

    def init(address: str, **options: Any) -> None:
        calls.append(address)
        if errors:
            raise errors.pop(0)

    return calls, init


def test_a_client_server_that_failed_to_start_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, init = _init_failing([ConnectionAbortedError(FAILED)])
    monkeypatch.setattr(session.ray, "init", init)
    monkeypatch.setattr(session, "CLIENT_RETRY_PAUSE_S", 0.0)
    session._connect("ray://head:10001", {})
    assert calls == ["ray://head:10001", "ray://head:10001"]


def test_other_connection_failures_and_the_last_attempt_are_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session, "CLIENT_RETRY_PAUSE_S", 0.0)
    calls, init = _init_failing([ConnectionAbortedError("version mismatch")])
    monkeypatch.setattr(session.ray, "init", init)
    with pytest.raises(ConnectionAbortedError, match="version mismatch"):
        session._connect("ray://head:10001", {})
    assert len(calls) == 1

    attempts = session.CLIENT_CONNECT_ATTEMPTS
    calls, init = _init_failing([ConnectionAbortedError(FAILED) for _ in range(attempts)])
    monkeypatch.setattr(session.ray, "init", init)
    with pytest.raises(ConnectionAbortedError, match="client server failed"):
        session._connect("ray://head:10001", {})
    assert len(calls) == attempts
