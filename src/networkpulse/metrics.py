"""Prometheus metrics: every metric name networkpulse exposes is defined here, once.

Three places expose them, each from its own registry (nothing global, so several pipelines, apps or tests live in
one process without clashing):

- ``pulse run`` / ``pulse demo`` with ``--metrics-port``: :class:`PipelineMetrics`, this process's run;
- ``pulse serve`` at ``GET /metrics``: :func:`render_serve_metrics`, the store's cumulative counters (the same
  numbers as ``/api/stats``) plus the live feed's clients and dropped frames;
- the Kafka services: :class:`ServiceMetrics` (adds consumer lag and watermark) served by :func:`serve_metrics`.

Names follow the Prometheus conventions: the ``networkpulse_`` prefix, base units in the name (``_seconds``,
``_messages``), counters end in ``_total`` (the client adds it to the names below), and every label takes a
bounded set of values: filter reasons are :data:`FILTER_REASONS`, skip reasons
:data:`networkpulse.events.REASONS`, topics and partitions are those a service is assigned.

Counters of the pipeline are read from its own bookkeeping (``FilterStats``, ``InputReport``, ``Progress``) when
Prometheus scrapes, so metrics cost the hot path nothing; only a store write's latency is observed as it happens
(once per batched write, not per window).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client import generate_latest as _generate
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from networkpulse.errors import PulseError
from networkpulse.events.report import REASONS as SKIP_REASONS

if TYPE_CHECKING:
    from networkpulse.pipeline import Pipeline

# The client would add a `<name>_created` gauge (a start timestamp) beside every counter and histogram: noise in the
# text format that no dashboard reads, twice the series. Process-wide, as the client offers it.
disable_created_metrics()

# ----------------------------------------------------------------------------------------------- names
# Counters are given without ``_total``: prometheus_client appends it in the exposition.

#: Raw events read with a valid time (kept or filtered). Counter.
EVENTS = "networkpulse_events"
#: Events read per second of the run, since it started (the run summary's figure). Gauge.
EVENTS_RATE = "networkpulse_events_per_second"
#: Interaction records venturi emitted. Counter.
INTERACTIONS = "networkpulse_interactions"
#: Events that gave no interaction, by ``reason`` (:data:`FILTER_REASONS`). Counter.
FILTERED = "networkpulse_events_filtered"
#: Input units (lines, files) skipped as unreadable, by ``reason`` (:data:`SKIP_REASONS`); late events are also
#: counted here as ``reason="late"``, as ``/api/stats`` counts them in ``skipped_lines``. Counter.
SKIPPED = "networkpulse_input_skipped"
#: Events that arrived behind the watermark, their window closed: counted, not applied. Counter.
LATE = "networkpulse_late_events"
#: Windows the engine closed and handed to the store. Counter.
WINDOWS_EMITTED = "networkpulse_windows_emitted"
#: Windows the store newly stored (a replayed window whose bounds are stored is not counted again). Counter.
WINDOWS_STORED = "networkpulse_windows_stored"
#: Seconds one batched store write (one transaction, many windows) took. Histogram.
STORE_WRITE = "networkpulse_store_write_duration_seconds"
#: Size of the largest cluster of the newest window. Gauge.
LARGEST = "networkpulse_largest_cluster_members"
#: End of the newest emitted window, in event time (Unix seconds). Gauge.
EVENT_TIME = "networkpulse_last_window_end_timestamp_seconds"
#: Windows the store holds now (retention removes old ones). Gauge.
STORED = "networkpulse_store_windows"
#: When the pipeline last wrote the store's counters (Unix seconds, wall clock). Gauge.
UPDATED = "networkpulse_store_updated_timestamp_seconds"
#: WebSocket clients of the live feed connected now. Gauge.
LIVE_CLIENTS = "networkpulse_live_clients"
#: Live frames skipped for clients too slow to take them (the data stays in the store). Counter.
FRAMES_DROPPED = "networkpulse_live_frames_dropped"
#: Messages between a consumer's position and the end of a partition, by ``topic`` and ``partition``. Gauge.
CONSUMER_LAG = "networkpulse_consumer_lag_messages"
#: The stage's event-time watermark (the minimum over its partitions), Unix seconds. Gauge.
WATERMARK = "networkpulse_watermark_timestamp_seconds"

#: ``FilterStats.dropped`` reasons (see :mod:`networkpulse.venturi.stats`): the values of ``reason`` on FILTERED.
FILTER_REASONS = ("self", "no_counterpart", "no_actor", "bad_login")
#: Store write latency buckets: a batched SQLite write takes ~1-50 ms, a PostgreSQL one a few ms to seconds.
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# ----------------------------------------------------------------------------------------------- families


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _by_reason(name: str, doc: str, counts: Mapping[str, int], reasons: tuple[str, ...]) -> CounterMetricFamily:
    """One sample per known reason (0 when none yet, so rate() works from the start), plus any other reason the
    counts hold (a reason added later in the code; the set stays bounded by the code)."""
    family = CounterMetricFamily(name, doc, labels=["reason"])
    for reason in (*reasons, *sorted(set(counts) - set(reasons))):
        family.add_metric([reason], counts.get(reason, 0))
    return family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


_DOCS = {
    EVENTS: "Raw events read with a valid time (kept or filtered).",
    EVENTS_RATE: "Events read per second since the run started.",
    INTERACTIONS: "Interaction records emitted by venturi.",
    FILTERED: "Events that gave no interaction, by reason.",
    SKIPPED: "Input lines or files skipped as unreadable, by reason.",
    LATE: "Events that arrived after their window closed (counted, not applied).",
    WINDOWS_EMITTED: "Windows the engine closed and handed to the store.",
    WINDOWS_STORED: "Windows newly stored (replays of stored windows are not counted).",
    STORE_WRITE: "Seconds one batched store write (one transaction) took.",
    LARGEST: "Members of the largest cluster of the newest window.",
    EVENT_TIME: "End of the newest emitted window in event time, Unix seconds.",
    STORED: "Windows the store holds now.",
    UPDATED: "When the pipeline last wrote the store's counters, Unix seconds.",
    LIVE_CLIENTS: "WebSocket clients of the live feed connected now.",
    FRAMES_DROPPED: "Live frames skipped for clients too slow to take them.",
    CONSUMER_LAG: "Messages between the consumer's position and the end of the partition.",
    WATERMARK: "Event-time watermark of this stage (minimum over its partitions), Unix seconds.",
}


def _standard(registry: CollectorRegistry) -> None:
    """Process (CPU, memory, open files), Python platform and GC metrics, as every official client exposes."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class Metrics:
    """A registry of one process's metrics with the store-write ones every writer has.

    ``on_write(handed, stored, seconds)`` is the :class:`~networkpulse.pipeline.Pipeline` ``on_write``
    callback; a service that writes a store calls it the same way after each write.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, standard: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        if standard:
            _standard(self.registry)
        self.windows_emitted = Counter(WINDOWS_EMITTED, _DOCS[WINDOWS_EMITTED], registry=self.registry)
        self.windows_stored = Counter(WINDOWS_STORED, _DOCS[WINDOWS_STORED], registry=self.registry)
        self.store_write_seconds = Histogram(STORE_WRITE, _DOCS[STORE_WRITE], buckets=WRITE_BUCKETS,
                                             registry=self.registry)

    def on_write(self, handed: int, stored: int, seconds: float) -> None:
        """Count one store write: ``handed`` windows given to it, ``stored`` newly stored, in ``seconds``."""
        self.windows_emitted.inc(handed)
        self.windows_stored.inc(stored)
        self.store_write_seconds.observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text format (what ``/metrics`` answers)."""
        return _generate(self.registry)


class _PipelineCollector(Collector):
    """Reads a running pipeline's own counters at scrape time (another thread): ints and dict copies only, so it
    never blocks the pipeline. ``dict(counter)`` is one C call under the GIL, so a reason added meanwhile cannot
    break the iteration."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        p = self._pipeline
        progress, filters = p.progress, p.filters
        yield _counter(EVENTS, _DOCS[EVENTS], filters.events)
        yield _gauge(EVENTS_RATE, _DOCS[EVENTS_RATE], progress.events_per_s)
        yield _counter(INTERACTIONS, _DOCS[INTERACTIONS], filters.interactions)
        yield _by_reason(FILTERED, _DOCS[FILTERED], dict(filters.dropped), FILTER_REASONS)
        yield _by_reason(SKIPPED, _DOCS[SKIPPED], dict(p.report.by_reason), SKIP_REASONS)
        yield _counter(LATE, _DOCS[LATE], p.late.count)
        yield _gauge(LARGEST, _DOCS[LARGEST], progress.largest)
        if progress.last_window_end_ms is not None:
            yield _gauge(EVENT_TIME, _DOCS[EVENT_TIME], progress.last_window_end_ms / 1000)


class PipelineMetrics(Metrics):
    """The metrics of one embedded run (``pulse run``/``pulse demo --metrics-port``): counters of *this
    process's* run (a continued store's earlier runs are in ``/api/stats``), read from ``pipeline`` at scrape
    time, and the store writes through :meth:`on_write`. Usage::

        pipeline = Pipeline(settings)
        metrics = PipelineMetrics(pipeline)         # sets pipeline.on_write
        server = serve_metrics(9100, metrics.registry)
    """

    def __init__(self, pipeline: Pipeline, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.registry.register(_PipelineCollector(pipeline))
        pipeline.on_write = self.on_write


class ServiceMetrics(Metrics):
    """The metrics of one Kafka service process: events, interactions, filtered and skipped by reason, late
    events as prometheus counters to ``inc`` as the service goes; consumer lag per assigned partition and the
    event-time watermark as gauges; the store-write ones of :class:`Metrics`. Served by :func:`serve_metrics`.

    ``service`` (``venturi``, ``persist``, …) is exposed as ``networkpulse_service_info{service=…}``.
    """

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        reg = self.registry
        info = Gauge("networkpulse_service_info", "The networkpulse service this process runs.", ["service"],
                     registry=reg)
        info.labels(service).set(1)
        self.events = Counter(EVENTS, _DOCS[EVENTS], registry=reg)
        self.interactions = Counter(INTERACTIONS, _DOCS[INTERACTIONS], registry=reg)
        self.filtered = Counter(FILTERED, _DOCS[FILTERED], ["reason"], registry=reg)
        self.skipped = Counter(SKIPPED, _DOCS[SKIPPED], ["reason"], registry=reg)
        self.late_events = Counter(LATE, _DOCS[LATE], registry=reg)
        for reason in FILTER_REASONS:
            self.filtered.labels(reason)
        for reason in SKIP_REASONS:
            self.skipped.labels(reason)
        self.consumer_lag = Gauge(CONSUMER_LAG, _DOCS[CONSUMER_LAG], ["topic", "partition"], registry=reg)
        self.watermark = Gauge(WATERMARK, _DOCS[WATERMARK], registry=reg)

    def count(self, events: int, interactions: int, filtered: Mapping[str, int] | None = None,
              skipped: Mapping[str, int] | None = None, late: int = 0) -> None:
        """Add one batch's figures (deltas, not totals): e.g. a fresh ``FilterStats`` per batch's ``extract``."""
        self.events.inc(events)
        self.interactions.inc(interactions)
        for reason, n in (filtered or {}).items():
            self.filtered.labels(reason).inc(n)
        for reason, n in (skipped or {}).items():
            self.skipped.labels(reason).inc(n)
        if late:
            self.late_events.inc(late)

    def set_lag(self, topic: str, partition: int, end_offset: int, position: int) -> None:
        """Lag of one assigned partition: its end (high watermark) offset minus the consumer's position, never
        below 0. Call it for each partition after each poll or on a timer; :meth:`forget_partition` on revoke."""
        self.consumer_lag.labels(topic, str(partition)).set(max(0, end_offset - position))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Stop exposing a revoked partition's lag (it belongs to another worker now)."""
        with contextlib.suppress(KeyError):
            self.consumer_lag.remove(topic, str(partition))

    def observe_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Every assigned partition's lag at once (``Link.lag()``): partitions no longer in ``lags`` were revoked
        and are forgotten. O(partitions)."""
        known = {(s.labels["topic"], int(s.labels["partition"])) for m in self.consumer_lag.collect()
                 for s in m.samples}
        for topic, partition in known - set(lags):
            self.forget_partition(topic, partition)
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(max(0, lag))

    def on_poll(self, link: Any, _stats: object = None) -> None:
        """A relay's ``on_poll`` (:func:`networkpulse.bus.relay`): the consumer lag of ``link`` after each poll."""
        self.observe_lag(link.lag())

    def set_watermark(self, watermark_ms: int | None) -> None:
        """The stage's watermark in epoch milliseconds (None before any event: left unchanged)."""
        if watermark_ms is not None:
            self.watermark.set(watermark_ms / 1000)


# ----------------------------------------------------------------------------------------------- serve


def render_serve_metrics(stats: Mapping[str, Any], *, live_clients: int, frames_dropped: int) -> bytes:
    """``GET /metrics`` of ``pulse serve``: the store's ``Stats`` (``/api/stats``, cumulative over every run on
    the store, as last committed) as counters and gauges, the live feed's clients and dropped frames, and this
    server process's own metrics. The store keeps skipped lines only as a total, so ``SKIPPED`` has no
    ``reason`` label here (``pulse run --metrics-port`` has it). O(1)."""
    registry = CollectorRegistry()
    _standard(registry)
    registry.register(_StatsCollector(stats, live_clients, frames_dropped))
    return _generate(registry)


class _StatsCollector(Collector):
    def __init__(self, stats: Mapping[str, Any], live_clients: int, frames_dropped: int) -> None:
        self._stats, self._clients, self._dropped = stats, live_clients, frames_dropped

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        yield _counter(EVENTS, _DOCS[EVENTS], s.get("events", 0))
        yield _gauge(EVENTS_RATE, _DOCS[EVENTS_RATE], s.get("events_per_s", 0.0))
        yield _counter(INTERACTIONS, _DOCS[INTERACTIONS], s.get("interactions", 0))
        yield _by_reason(FILTERED, _DOCS[FILTERED], s.get("dropped") or {}, FILTER_REASONS)
        yield _counter(SKIPPED, _DOCS[SKIPPED], s.get("skipped_lines", 0))
        yield _counter(LATE, _DOCS[LATE], s.get("late_events", 0))
        yield _gauge(STORED, _DOCS[STORED], s.get("windows", 0))
        if s.get("updated_ms") is not None:
            yield _gauge(UPDATED, _DOCS[UPDATED], s["updated_ms"] / 1000)
        yield _gauge(LIVE_CLIENTS, _DOCS[LIVE_CLIENTS], self._clients)
        yield _counter(FRAMES_DROPPED, _DOCS[FRAMES_DROPPED], self._dropped)


# ----------------------------------------------------------------------------------------------- http


@dataclass(slots=True)
class MetricsServer:
    """A running ``/metrics`` endpoint (a daemon thread); ``close()`` stops it and frees the port."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    port: int, registry: CollectorRegistry | Metrics, host: str = "127.0.0.1",
    flag: str = "--metrics-port",
) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` (any path answers) from a daemon thread, as
    Prometheus scrapes it; ``port`` 0 picks a free one (``MetricsServer.port``). ``flag`` names the option in
    messages. Raises :class:`PulseError` saying which address could not be bound and why."""
    reg = registry.registry if isinstance(registry, Metrics) else registry
    try:
        server, thread = start_http_server(port, addr=host, registry=reg)
    except OSError as exc:
        raise PulseError(
            f"{flag} {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); pick a free port, or 0 for "
            "any free one"
        ) from None
    return MetricsServer(host, int(server.server_address[1]), server, thread)


#: What ``/metrics`` is served as: the client's text exposition format.
CONTENT_TYPE = CONTENT_TYPE_LATEST

__all__ = [
    "CONSUMER_LAG",
    "CONTENT_TYPE",
    "EVENTS",
    "EVENTS_RATE",
    "EVENT_TIME",
    "FILTERED",
    "FILTER_REASONS",
    "FRAMES_DROPPED",
    "INTERACTIONS",
    "LARGEST",
    "LATE",
    "LIVE_CLIENTS",
    "SKIPPED",
    "SKIP_REASONS",
    "STORED",
    "STORE_WRITE",
    "UPDATED",
    "WATERMARK",
    "WINDOWS_EMITTED",
    "WINDOWS_STORED",
    "Metrics",
    "MetricsServer",
    "PipelineMetrics",
    "ServiceMetrics",
    "render_serve_metrics",
    "serve_metrics",
]
