"""Starling's metrics: what it measures (METRICS, one list for the recorders, the Grafana
dashboard and its test) and the recorders the Gateway and the EventLander use.

Each value goes to Ray Serve's metrics API (one scrape of Ray's metrics export sees every
replica, tagged by Serve with deployment and replica) and to this replica's own registry, which
GET /metrics renders for a process on its own (see cluster/app/metric_sinks.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.app.impression_log import DROP_REASONS, DropReason
from cluster.app.metric_sinks import (
    RAY_EXPORT_PREFIX,
    MetricSpec,
    PrometheusSink,
    RayServeSink,
    Sink,
)
from cluster.app.recent_traffic import RecentTraffic
from core.api import StageTrace
from ingest.stream.landing_totals import LandingStatus

_VARIANT = ("experiment", "variant")
REQUESTS = MetricSpec(
    name="starling_requests",
    kind="counter",
    description="Requests answered, by endpoint and HTTP status",
    tags=("endpoint", "status"),
)
LATENCY = MetricSpec(
    name="starling_request_seconds",
    kind="histogram",
    description="End-to-end latency of /recommend inside the Gateway",
)
STAGE_LATENCY = MetricSpec(
    name="starling_stage_seconds",
    kind="histogram",
    description="Latency of each stage (recall, rank, rerank) as the stage reports it",
    tags=("stage",),
)
ITEMS = MetricSpec(
    name="starling_items_served", kind="counter", description="Items returned by /recommend"
)
DEGRADED = MetricSpec(
    name="starling_degraded",
    kind="counter",
    description="Requests answered with a stage degraded, by stage",
    tags=("stage",),
)
VARIANT_REQUESTS = MetricSpec(
    name="starling_variant_requests",
    kind="counter",
    description="/recommend requests by A/B experiment and variant",
    tags=_VARIANT,
)
VARIANT_LATENCY = MetricSpec(
    name="starling_variant_request_seconds",
    kind="histogram",
    description="End-to-end latency of /recommend by A/B experiment and variant",
    tags=_VARIANT,
)
VARIANT_ITEMS = MetricSpec(
    name="starling_variant_items_served",
    kind="counter",
    description="Items returned by /recommend by A/B experiment and variant",
    tags=_VARIANT,
)
EVENTS_RECORDED = MetricSpec(
    name="starling_events_recorded",
    kind="counter",
    description="Events POST /events recorded (new) or recognised as sent before (duplicate)",
    tags=("outcome",),
)
STREAM = MetricSpec(
    name="starling_stream",
    kind="gauge",
    description="The live event stream: entries it holds (length) and, since it was created, "
    "entries read, events landed in the lake, entries quarantined and entries its cap dropped "
    "before they landed (totals kept in Redis)",
    tags=("measure",),
)
IMPRESSIONS_DROPPED = MetricSpec(
    name="starling_impressions_dropped",
    kind="counter",
    description="Impressions of /recommend answers never written to the event stream, by "
    "reason: queue_full (the write queue was at its cap), redis_error, error",
    tags=("reason",),
)
METRICS = (
    REQUESTS,
    LATENCY,
    STAGE_LATENCY,
    ITEMS,
    DEGRADED,
    VARIANT_REQUESTS,
    VARIANT_LATENCY,
    VARIANT_ITEMS,
    EVENTS_RECORDED,
    STREAM,
    IMPRESSIONS_DROPPED,
)
_STREAM_MEASURES = ("stream_length", "read", "landed", "quarantined", "dropped")


# Serve's own per-replica series that the Grafana dashboard reads besides Starling's: every
# Starling replica exports them (tests/integration/cluster/app/test_ray_metrics_export.py).
SERVE_SERIES = {"ray_serve_deployment_processing_latency_ms_bucket"}


def exported_series() -> set[str]:
    """Every series name Ray's metrics export shows for Starling's replicas: Starling's metrics
    and the Serve series in SERVE_SERIES."""
    return {name for spec in METRICS for name in spec.series(RAY_EXPORT_PREFIX)} | SERVE_SERIES


class _Recorder:
    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = sinks

    def _record(self, spec: MetricSpec, value: float, **tags: str) -> None:
        for sink in self.sinks:
            sink.record(spec, value, tags)


class GatewayMetrics(_Recorder):
    """What one Gateway replica measures, recorded for Ray's export and for GET /metrics, and
    the last two minutes of /recommend for the ops page."""

    def __init__(self) -> None:
        self.local = PrometheusSink(METRICS)
        super().__init__([self.local, RayServeSink(METRICS)])
        self.recent = RecentTraffic()
        for reason in DROP_REASONS:
            # Present at 0 from the start, so that an alert on its rate has a series to read.
            self.local.touch(IMPRESSIONS_DROPPED, {"reason": reason})

    def answered(self, endpoint: str, status: int) -> None:
        self._record(REQUESTS, 1, endpoint=endpoint, status=str(status))

    def recommended(
        self,
        traces: Sequence[StageTrace],
        degraded: Sequence[str],
        items: int,
        seconds: float,
        variants: dict[str, str],
    ) -> None:
        """One /recommend answer: its latency, its stages' latencies and degradations, and its
        A/B variants."""
        self.answered("recommend", 200)
        self._record(LATENCY, seconds)
        self._record(ITEMS, items)
        self.recent.record(seconds)
        for trace in traces:
            self._record(STAGE_LATENCY, trace.ms / 1000, stage=trace.stage)
        for stage in degraded:
            self._record(DEGRADED, 1, stage=stage)
        for experiment, variant in variants.items():
            self._record(VARIANT_REQUESTS, 1, experiment=experiment, variant=variant)
            self._record(VARIANT_LATENCY, seconds, experiment=experiment, variant=variant)
            self._record(VARIANT_ITEMS, items, experiment=experiment, variant=variant)

    def events_recorded(self, new: int, duplicates: int) -> None:
        self.answered("events", 200)
        self._record(EVENTS_RECORDED, new, outcome="new")
        self._record(EVENTS_RECORDED, duplicates, outcome="duplicate")

    def impressions_lost(self, count: int, reason: DropReason) -> None:
        self._record(IMPRESSIONS_DROPPED, count, reason=reason)

    def observe_stream(self, status: LandingStatus) -> None:
        """The stream's totals as this replica last read them, for GET /metrics; Ray's export
        has them from the EventLander (`LandingMetrics`)."""
        for measure in _STREAM_MEASURES:
            tags = {"measure": measure.removeprefix("stream_")}
            self.local.record(STREAM, getattr(status, measure), tags)

    def render(self) -> bytes:
        return self.local.render()


class LandingMetrics(_Recorder):
    """The event stream's totals after each landing round of the EventLander."""

    def __init__(self) -> None:
        super().__init__([RayServeSink((STREAM,))])

    def observe(self, status: LandingStatus) -> None:
        for measure in _STREAM_MEASURES:
            self._record(STREAM, getattr(status, measure), measure=measure.removeprefix("stream_"))
