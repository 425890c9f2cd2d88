"""The Gateway's metrics: what GET /metrics shows after an answer, that every metric records
through Ray Serve's metrics API with the tags Ray demands, and the ops page's recent traffic."""

from __future__ import annotations

import pytest

from cluster.app.metric_sinks import RayServeSink
from cluster.app.metrics import ITEMS, METRICS, GatewayMetrics, LandingMetrics, exported_series
from cluster.app.recent_traffic import RecentTraffic
from core.api import StageTrace
from ingest.stream.landing_totals import LandingStatus


def _trace(stage: str, ms: float) -> StageTrace:
    return StageTrace(stage=stage, candidates_in=10, candidates_out=5, ms=ms)


def _sample(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.local.registry.get_sample_value(name, labels)


def test_an_answer_shows_in_metrics_with_its_stages_degradations_and_variants() -> None:
    metrics = GatewayMetrics()
    traces = [_trace("recall", 12.0), _trace("rank", 30.0)]
    metrics.recommended(traces, ["rerank"], items=10, seconds=0.05, variants={"ranker": "mlp"})
    metrics.events_recorded(new=3, duplicates=1)
    metrics.answered("events", 503)

    assert _sample(metrics, "starling_requests_total", endpoint="recommend", status="200") == 1
    assert _sample(metrics, "starling_requests_total", endpoint="events", status="503") == 1
    assert _sample(metrics, "starling_items_served_total") == 10
    assert _sample(metrics, "starling_stage_seconds_sum", stage="rank") == pytest.approx(0.03)
    assert _sample(metrics, "starling_degraded_total", stage="rerank") == 1
    assert _sample(metrics, "starling_events_recorded_total", outcome="new") == 3
    assert _sample(metrics, "starling_events_recorded_total", outcome="duplicate") == 1
    variant = {"experiment": "ranker", "variant": "mlp"}
    assert _sample(metrics, "starling_variant_requests_total", **variant) == 1
    assert b'starling_request_seconds_bucket{le="0.05"} 1.0' in metrics.render()


def test_the_stream_gauge_shows_the_last_landing_totals() -> None:
    metrics = GatewayMetrics()
    status = LandingStatus(group="g", stream_length=4, read=10, landed=9, quarantined=1, dropped=0)
    metrics.observe_stream(status)
    assert _sample(metrics, "starling_stream", measure="landed") == 9
    assert _sample(metrics, "starling_stream", measure="length") == 4


def test_every_metric_records_through_ray_serve_with_the_tags_it_declares() -> None:
    # Ray refuses a record that lacks a declared tag: each spec is recorded once with its
    # own tags, and once without one, which must fail as it would inside a replica.
    sink = RayServeSink(METRICS)
    for spec in METRICS:
        sink.record(spec, 1.0, {tag: "x" for tag in spec.tags})
        if spec.tags:
            with pytest.raises(ValueError, match="Missing value for tag"):
                sink.record(spec, 1.0, {})
    # A counter given nothing to add (an answer with no items) records nothing, not an error.
    sink.record(ITEMS, 0, {})
    LandingMetrics().observe(LandingStatus(group="g", stream_length=0))


def test_the_exported_names_are_rays_with_its_prefix_and_suffixes() -> None:
    names = exported_series()
    assert "ray_starling_requests_total" in names
    assert {"ray_starling_request_seconds_bucket", "ray_starling_stream"} <= names
    assert not any(name.startswith("starling_") for name in names)


def test_recent_traffic_counts_each_second_and_forgets_old_ones() -> None:
    now = [1000.0]
    traffic = RecentTraffic(seconds=60, clock=lambda: now[0])
    for latency in (0.010, 0.020, 0.030):
        traffic.record(latency)
    now[0] = 1002.5
    traffic.record(0.100)

    points = traffic.points()
    assert len(points) == 60 and points[-1].at == 1002.0
    by_second = {p.at: p for p in points}
    assert by_second[1000.0].requests == 3 and by_second[1000.0].p50_ms == pytest.approx(20.0)
    assert by_second[1001.0].requests == 0 and by_second[1001.0].p99_ms is None
    now[0] = 1100.0
    assert sum(p.requests for p in traffic.points()) == 0
