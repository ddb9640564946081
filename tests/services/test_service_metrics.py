"""Every Kafka service's Prometheus metrics (`--metrics-port`) tell the truth: one real hour through firehose →
venturi → forest → merger → persister on the real broker and PostgreSQL, each service with its own
:class:`ServiceMetrics`; their counters equal what the services and the store report, the lag of a drained
input is 0 (transaction markers aside), the merger's watermark is the one it checkpointed, and one endpoint
parses with prometheus_client's parser. Needs scripts/kafka.sh and scripts/postgres.sh."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from networkpulse.engine.types import WindowConfig
from networkpulse.metrics import ServiceMetrics, serve_metrics
from networkpulse.services.components import merger_state, run_forest, run_merger
from networkpulse.services.firehose import FirehoseConfig, run_firehose
from networkpulse.services.persist import run_persist
from networkpulse.services.venturi import run_venturi
from networkpulse.store import open_store

pytestmark = pytest.mark.postgres

HOUR = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive" / "2015-01-01-12.json.gz"
WINDOW = WindowConfig(size_ms=600_000, slide_ms=60_000, lateness_ms=30_000)
IDLE_S = 8.0  # a new group's join takes a few seconds; the input is all there before each stage starts


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(name, labels)
    assert got is not None, f"{name}{labels} not exposed"
    return got


def lags(metrics: ServiceMetrics) -> list[float]:
    return [s.value for m in metrics.consumer_lag.collect() for s in m.samples]


def test_each_service_counts_what_it_did(new_topic: Callable[[str], str], store_url: str) -> None:
    raw, inter, panes, windows = (new_topic(n) for n in ("m.raw", "m.inter", "m.panes", "m.windows"))
    m = {name: ServiceMetrics(name) for name in ("firehose", "venturi", "forest", "merge", "persist")}

    fh = run_firehose(FirehoseConfig(sources=(str(HOUR),), to=raw, partitions=2), metrics=m["firehose"])
    assert value(m["firehose"], "networkpulse_events_total") == fh.produced > 5_000

    v = run_venturi(raw, inter, worker="0", partitions=2, idle_s=IDLE_S, metrics=m["venturi"])
    assert value(m["venturi"], "networkpulse_events_total") == v.filters.events == fh.produced
    assert value(m["venturi"], "networkpulse_interactions_total") == v.filters.interactions > 0
    for reason, n in v.filters.dropped.items():
        assert value(m["venturi"], "networkpulse_events_filtered_total", reason=reason) == n
    assert sum(v.filters.dropped.values()) > 0
    assert lags(m["venturi"]) and max(lags(m["venturi"])) <= 1  # drained (a marker may follow the last batch)

    run_forest(inter, panes, slide_ms=WINDOW.slide_ms, worker="0", idle_s=IDLE_S, metrics=m["forest"])
    assert value(m["forest"], "networkpulse_events_total") == fh.produced
    assert value(m["forest"], "networkpulse_interactions_total") == v.filters.interactions

    r = run_merger(panes, windows, WINDOW, flush_idle_s=1.0, until_idle_s=IDLE_S, metrics=m["merge"])
    assert value(m["merge"], "networkpulse_events_total") == fh.produced
    assert value(m["merge"], "networkpulse_windows_emitted_total") == r.windows + r.provisional > 40
    assert value(m["merge"], "networkpulse_late_events_total") == r.late_events
    state = merger_state(windows)
    assert state is not None
    slowest = min(state["watermarks_ms"].values())  # type: ignore[attr-defined]
    assert value(m["merge"], "networkpulse_watermark_timestamp_seconds") * 1000 == slowest  # min over origins

    p = run_persist(windows, store_url, idle_s=IDLE_S, metrics=m["persist"])
    with open_store(store_url, readonly=True) as store:
        stats = store.stats()
        latest_final = next(w for w in store.windows(limit=100) if not w["provisional"])
    assert value(m["persist"], "networkpulse_windows_stored_total") == p.windows + p.provisional
    assert value(m["persist"], "networkpulse_events_total") == stats["events"] == fh.produced
    assert value(m["persist"], "networkpulse_watermark_timestamp_seconds") * 1000 == latest_final["end_ms"]
    assert value(m["persist"], "networkpulse_store_write_duration_seconds_count") == p.writes

    server = serve_metrics(0, m["persist"])
    try:
        text = urllib.request.urlopen(server.url, timeout=10).read().decode()
    finally:
        server.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["networkpulse_windows_stored"].samples[0].value == p.windows + p.provisional
    assert {s.labels["service"] for s in families["networkpulse_service_info"].samples} == {"persist"}
