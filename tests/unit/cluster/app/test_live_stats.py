from __future__ import annotations

import asyncio

import pytest

from cluster.app.live_stats import LiveStats, TrackedCall


def test_calls_in_flight_are_counted_until_they_end() -> None:
    stats = LiveStats()
    with stats.track("Rank"):
        with stats.track("Rank"):
            assert stats.snapshot()["Rank"].ongoing == 2
        assert stats.snapshot()["Rank"].ongoing == 1
    rank = stats.snapshot()["Rank"]
    assert (rank.ongoing, rank.calls) == (0, 2)


def test_a_failed_call_still_ends_and_counts() -> None:
    stats = LiveStats()
    with pytest.raises(RuntimeError), stats.track("Recall"):
        raise RuntimeError("replica died")
    recall = stats.snapshot()["Recall"]
    assert (recall.ongoing, recall.calls) == (0, 1)
    assert recall.p50_ms is not None


def test_percentiles_come_from_the_last_window_of_calls() -> None:
    stats = LiveStats(window=100)
    for ms in range(1, 201):
        stats.record("Rerank", float(ms))
    rerank = stats.snapshot()["Rerank"]
    assert rerank.p50_ms == pytest.approx(150.5)
    assert rerank.p99_ms == pytest.approx(199.01)


def test_a_name_never_called_has_no_latency() -> None:
    assert LiveStats().snapshot() == {}


class _Handle:
    def __init__(self, stats: LiveStats) -> None:
        self.stats = stats
        self.seen_ongoing: int | None = None

    def remote(self, value: int):
        async def answer() -> int:
            self.seen_ongoing = self.stats.snapshot()["Rank"].ongoing
            return value * 2

        return answer()


def test_a_tracked_call_answers_like_the_handle_and_is_counted_while_it_runs() -> None:
    stats = LiveStats()
    handle = _Handle(stats)
    assert asyncio.run(TrackedCall(stats, "Rank", handle).remote(21)) == 42
    assert handle.seen_ongoing == 1
    assert stats.snapshot()["Rank"].calls == 1
