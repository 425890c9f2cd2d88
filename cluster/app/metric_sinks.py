"""Where Starling's metrics go: Ray Serve's metrics API, and a prometheus_client registry.

Through `ray.serve.metrics` every replica's values reach the Ray metrics export of its node,
where Serve tags them with the deployment, the replica and the application: one scrape of the
export sees every replica. The registry is what GET /metrics renders: the values of the one
replica that answered, which is all there is in a single process.

Both record the same `MetricSpec`s; neither needs a running Ray (outside a replica, Serve adds
no tags and Ray keeps the values in the process, where nothing exports them).
"""

from __future__ import annotations

from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge
from prometheus_client import Histogram as PromHistogram
from pydantic import BaseModel
from ray.serve import metrics as serve_metrics

MetricKind = Literal["counter", "histogram", "gauge"]
# Ray's export names every application metric with this prefix.
RAY_EXPORT_PREFIX = "ray_"
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class MetricSpec(BaseModel, frozen=True):
    """One metric: its name (without the exporter's prefix and suffixes) and tag keys."""

    name: str
    kind: MetricKind
    description: str
    tags: tuple[str, ...] = ()

    def series(self, prefix: str = "") -> set[str]:
        """The series names a Prometheus scrape shows for it."""
        base = prefix + self.name
        if self.kind == "counter":
            return {f"{base}_total"}
        if self.kind == "histogram":
            return {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        return {base}


class Sink(Protocol):
    def record(self, spec: MetricSpec, value: float, tags: dict[str, str]) -> None:
        """Add `value` to a counter, observe it in a histogram, or set a gauge to it."""


class PrometheusSink:
    """A registry of this process's own (no globals), rendered as Prometheus text."""

    def __init__(self, specs: tuple[MetricSpec, ...]) -> None:
        self.registry = CollectorRegistry()
        self._metrics: dict[str, PromCounter | PromGauge | PromHistogram] = {}
        for spec in specs:
            options = {"registry": self.registry, "labelnames": spec.tags}
            if spec.kind == "counter":
                self._metrics[spec.name] = PromCounter(spec.name, spec.description, **options)
            elif spec.kind == "histogram":
                self._metrics[spec.name] = PromHistogram(
                    spec.name, spec.description, buckets=LATENCY_BUCKETS, **options
                )
            else:
                self._metrics[spec.name] = PromGauge(spec.name, spec.description, **options)

    def touch(self, spec: MetricSpec, tags: dict[str, str]) -> None:
        """Show a series at 0 before anything happened, so that an alert on it has one."""
        self._metrics[spec.name].labels(**tags)

    def record(self, spec: MetricSpec, value: float, tags: dict[str, str]) -> None:
        metric = self._metrics[spec.name]
        found = metric.labels(**tags) if spec.tags else metric
        if isinstance(found, PromCounter):
            found.inc(value)
        elif isinstance(found, PromHistogram):
            found.observe(value)
        else:
            found.set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RayServeSink:
    """`ray.serve.metrics` instruments: Serve adds the deployment, replica and application tags
    when they are made inside a replica."""

    def __init__(self, specs: tuple[MetricSpec, ...]) -> None:
        self._metrics: dict[
            str, serve_metrics.Counter | serve_metrics.Histogram | serve_metrics.Gauge
        ] = {}
        for spec in specs:
            tags = spec.tags or None
            if spec.kind == "counter":
                self._metrics[spec.name] = serve_metrics.Counter(spec.name, spec.description, tags)
            elif spec.kind == "histogram":
                self._metrics[spec.name] = serve_metrics.Histogram(
                    spec.name, spec.description, list(LATENCY_BUCKETS), tags
                )
            else:
                self._metrics[spec.name] = serve_metrics.Gauge(spec.name, spec.description, tags)

    def record(self, spec: MetricSpec, value: float, tags: dict[str, str]) -> None:
        metric = self._metrics[spec.name]
        # Serve fills its own tags into the dict it is given: each call gets a copy.
        if isinstance(metric, serve_metrics.Counter):
            # Ray refuses to add 0 (a counter's increment must be > 0); adding 0 changes nothing.
            if value > 0:
                metric.inc(value, dict(tags))
        elif isinstance(metric, serve_metrics.Histogram):
            metric.observe(value, dict(tags))
        else:
            metric.set(value, dict(tags))
