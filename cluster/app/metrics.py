"""The Gateway's Prometheus metrics, served as text at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from cluster.app.impression_log import DROP_REASONS, DropReason
from ingest.stream.landing_totals import LandingStatus

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class GatewayMetrics:
    """Counters and latency histograms of one Gateway replica (own registry, no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "starling_requests",
            "Requests answered, by endpoint and HTTP status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "starling_request_seconds",
            "End-to-end latency of /recommend inside the Gateway",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "starling_stage_seconds",
            "Latency of each stage as the stage reports it",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.items = Counter(
            "starling_items_served", "Items returned by /recommend", registry=self.registry
        )
        self.degraded = Counter(
            "starling_degraded",
            "Requests answered with a stage degraded, by stage",
            ["stage"],
            registry=self.registry,
        )

        self.variant_requests = Counter(
            "starling_variant_requests",
            "/recommend requests by A/B experiment and variant",
            ["experiment", "variant"],
            registry=self.registry,
        )
        self.variant_latency = Histogram(
            "starling_variant_request_seconds",
            "End-to-end latency of /recommend by A/B experiment and variant",
            ["experiment", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.variant_items = Counter(
            "starling_variant_items_served",
            "Items returned by /recommend by A/B experiment and variant",
            ["experiment", "variant"],
            registry=self.registry,
        )

        self.stream = Gauge(
            "starling_stream",
            "The live event stream: entries it holds (length) and, since it was created, "
            "entries read, events landed in the lake, entries quarantined and entries its cap "
            "dropped before they landed (totals kept in Redis)",
            ["measure"],
            registry=self.registry,
        )

        self.impressions_dropped = Counter(
            "starling_impressions_dropped",
            "Impressions of /recommend answers never written to the event stream, by reason: "
            "queue_full (the write queue was at its cap), redis_error, error",
            ["reason"],
            registry=self.registry,
        )
        for reason in DROP_REASONS:
            # Present at 0 from the start, so that an alert on its rate has a series to read.
            self.impressions_dropped.labels(reason=reason)

    def impressions_lost(self, count: int, reason: DropReason) -> None:
        self.impressions_dropped.labels(reason=reason).inc(count)

    def observe_stream(self, status: LandingStatus) -> None:
        for measure in ("stream_length", "read", "landed", "quarantined", "dropped"):
            self.stream.labels(measure=measure.removeprefix("stream_")).set(
                getattr(status, measure)
            )

    def observe_variants(self, variants: dict[str, str], items: int, seconds: float) -> None:
        for experiment, variant in variants.items():
            self.variant_requests.labels(experiment=experiment, variant=variant).inc()
            self.variant_latency.labels(experiment=experiment, variant=variant).observe(seconds)
            self.variant_items.labels(experiment=experiment, variant=variant).inc(items)

    def render(self) -> bytes:
        return generate_latest(self.registry)
