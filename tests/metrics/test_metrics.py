"""Prometheus metrics: `pulse serve`'s /metrics matches /api/stats, `pulse run`/`demo --metrics-port` expose the
running pipeline, and the Kafka services' metrics; all parsed with prometheus_client's own parser."""

from __future__ import annotations

import gzip
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

from networkpulse import metrics as m
from networkpulse.errors import PulseError
from networkpulse.pipeline import Pipeline, RunResult
from networkpulse.serve import create_app
from networkpulse.serve.live import Broadcaster
from networkpulse.serve.reader import StoreReader
from networkpulse.settings import Settings
from networkpulse.store import open_store
from tests.api.conftest import real_store, store_2015  # noqa: F401  (fixtures shared with the api tests)
from tests.api.helpers import HOUR_2015, PULSE
from tests.serve.helpers import LiveServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample as {(name, sorted labels): value}, and every family's type, by prometheus_client's parser."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


# ---------------------------------------------------------------------------------------------------- a messy run


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, RunResult, str, int]:
    """The real 2015 hour with a malformed line and one event moved to the end (late): run in-process with
    PipelineMetrics served on a free port. Returns (store URL, run result, the scrape after the run, writes)."""
    folder = tmp_path_factory.mktemp("messy")
    with gzip.open(HOUR_2015, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    moved = lines.pop(10)  # 12:00; after 12:59 its pane is closed: late
    source = folder / "2015-01-01-12.json.gz"
    with gzip.open(source, "wb") as f:
        f.writelines([*lines[:500], b"{not json\n", *lines[500:], moved])
    url = f"sqlite:///{folder / 'messy.db'}"
    pipeline = Pipeline(Settings(sources=(str(source),), store_url=url), flush_windows=20)
    collector = m.PipelineMetrics(pipeline)
    writes: list[float] = []
    inner = pipeline.on_write
    assert inner is not None

    def count(handed: int, stored: int, seconds: float) -> None:
        writes.append(seconds)
        inner(handed, stored, seconds)

    pipeline.on_write = count
    server = m.serve_metrics(0, collector)
    try:
        result = pipeline.run()
        text = scrape(server.url)
    finally:
        server.close()
    return url, result, text, len(writes)


def test_run_metrics_are_the_pipelines_own_counters(messy: tuple[str, RunResult, str, int]) -> None:
    url, result, text, writes = messy
    samples, types = parse(text)
    f = result.filters
    assert value(samples, "networkpulse_events_total") == f.events == 8273  # the late one was read too
    assert value(samples, "networkpulse_interactions_total") == f.interactions > 0
    for reason in m.FILTER_REASONS:
        assert value(samples, "networkpulse_events_filtered_total", reason=reason) == f.dropped.get(reason, 0)
    assert value(samples, "networkpulse_input_skipped_total", reason="malformed_json") == 1
    assert value(samples, "networkpulse_input_skipped_total", reason="late") == 1
    assert value(samples, "networkpulse_late_events_total") == result.late.count == 1
    assert value(samples, "networkpulse_windows_emitted_total") == result.progress.windows
    store = open_store(url, readonly=True)
    try:
        stored = store.stats()["windows"]
    finally:
        store.close()
    assert value(samples, "networkpulse_windows_stored_total") == stored == result.progress.windows
    assert value(samples, "networkpulse_store_write_duration_seconds_count") == writes > 2
    assert value(samples, "networkpulse_store_write_duration_seconds_sum") > 0
    assert value(samples, "networkpulse_events_per_second") > 0
    assert types["networkpulse_events"] == "counter" and types["networkpulse_store_write_duration_seconds"] == \
        "histogram"
    assert value(samples, "process_resident_memory_bytes") > 0


def _matches_stats(text: str, stats: dict[str, Any]) -> None:
    samples, _ = parse(text)
    assert value(samples, "networkpulse_events_total") == stats["events"]
    assert value(samples, "networkpulse_interactions_total") == stats["interactions"]
    filtered = {labels[0][1]: v for (name, labels), v in samples.items()
                if name == "networkpulse_events_filtered_total"}
    assert {k: v for k, v in filtered.items() if v} == stats["dropped"]
    assert sum(filtered.values()) == stats["filtered_events"]
    assert value(samples, "networkpulse_late_events_total") == stats["late_events"]
    assert value(samples, "networkpulse_input_skipped_total") == stats["skipped_lines"]
    assert value(samples, "networkpulse_store_windows") == stats["windows"]
    assert value(samples, "networkpulse_events_per_second") == stats["events_per_s"]
    assert value(samples, "networkpulse_store_updated_timestamp_seconds") == stats["updated_ms"] / 1000


def test_serve_metrics_match_api_stats(messy: tuple[str, RunResult, str, int], store_2015: str) -> None:  # noqa: F811
    for url in (messy[0], store_2015):
        with TestClient(create_app(url)) as client:
            stats = client.get("/api/stats").json()
            response = client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        _matches_stats(response.text, stats)
    assert stats["events"] == 8273 and messy[1].late.count == 1


def test_serve_metrics_of_an_empty_store_and_live_clients(tmp_path: Path) -> None:
    with LiveServer(f"sqlite:///{tmp_path / 'new.db'}") as server:
        samples, _ = parse(scrape(f"{server.http}/metrics"))
        assert value(samples, "networkpulse_events_total") == 0
        assert value(samples, "networkpulse_live_clients") == 0
        with ws_connect(f"{server.ws}/api/live") as one, ws_connect(f"{server.ws}/api/live") as two:
            assert '"hello"' in str(one.recv(timeout=10)) and '"hello"' in str(two.recv(timeout=10))
            samples, _ = parse(scrape(f"{server.http}/metrics"))
            assert value(samples, "networkpulse_live_clients") == 2
        deadline = time.monotonic() + 10
        while value(samples, "networkpulse_live_clients") and time.monotonic() < deadline:
            time.sleep(0.05)
            samples, _ = parse(scrape(f"{server.http}/metrics"))
        assert value(samples, "networkpulse_live_clients") == 0


def test_dropped_frames_are_counted(store_2015: str) -> None:  # noqa: F811
    broadcaster = Broadcaster(StoreReader(store_2015), poll_interval_s=1.0, queue_frames=2)
    slow, gone = broadcaster.subscribe(20), broadcaster.subscribe(20)
    broadcaster.unsubscribe(gone)
    window = {"id": 1, "start": "x", "cluster_list": []}
    for wid in range(1, 6):
        broadcaster._fan_out({**window, "id": wid}, 20)
    assert broadcaster.clients == 1 and slow.drop_count == 3
    samples, _ = parse(m.render_serve_metrics({}, live_clients=broadcaster.clients,
                                              frames_dropped=broadcaster.frames_dropped).decode())
    assert value(samples, "networkpulse_live_frames_dropped_total") == 3
    assert value(samples, "networkpulse_live_clients") == 1


# ---------------------------------------------------------------------------------------------------- services


def test_service_metrics_for_the_kafka_services() -> None:
    service = m.ServiceMetrics("venturi")
    server = m.serve_metrics(0, service)
    try:
        service.count(100, 40, filtered={"self": 55, "no_counterpart": 5}, skipped={"malformed_json": 2}, late=3)
        service.count(10, 4, filtered={"self": 6})
        service.set_lag("interactions", 0, end_offset=1000, position=900)
        service.set_lag("interactions", 1, end_offset=50, position=70)  # never negative
        service.set_lag("interactions", 2, end_offset=5, position=0)
        service.forget_partition("interactions", 2)
        service.forget_partition("interactions", 7)  # never assigned: no error
        service.set_watermark(1_420_113_600_000)
        service.on_write(10, 9, 0.02)
        samples, types = parse(scrape(server.url))
    finally:
        server.close()
    assert value(samples, "networkpulse_service_info", service="venturi") == 1
    assert value(samples, "networkpulse_events_total") == 110
    assert value(samples, "networkpulse_events_filtered_total", reason="self") == 61
    assert value(samples, "networkpulse_events_filtered_total", reason="bad_login") == 0
    assert value(samples, "networkpulse_input_skipped_total", reason="malformed_json") == 2
    assert value(samples, "networkpulse_late_events_total") == 3
    assert value(samples, "networkpulse_consumer_lag_messages", topic="interactions", partition="0") == 100
    assert value(samples, "networkpulse_consumer_lag_messages", topic="interactions", partition="1") == 0
    assert ("networkpulse_consumer_lag_messages", (("partition", "2"), ("topic", "interactions"))) not in samples
    assert value(samples, "networkpulse_watermark_timestamp_seconds") == 1_420_113_600
    assert value(samples, "networkpulse_windows_stored_total") == 9
    assert types["networkpulse_consumer_lag_messages"] == "gauge"


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PulseError, match=rf"--metrics-port {port}: cannot listen on 127.0.0.1:{port} .*0 for"):
            m.serve_metrics(port, m.ServiceMetrics("x"))


def test_names_follow_prometheus_conventions(messy: tuple[str, RunResult, str, int]) -> None:
    service = m.ServiceMetrics("persist")
    service.set_lag("windows", 3, 10, 1)
    texts = [messy[2], m.render_serve_metrics({"dropped": {"self": 1}}, live_clients=0, frames_dropped=0).decode(),
             service.render().decode()]
    ours = 0
    for text in texts:
        for family in text_string_to_metric_families(text):
            if not family.name.startswith("networkpulse_"):
                assert family.name.split("_")[0] in ("process", "python"), family.name
                continue
            ours += 1
            assert re.fullmatch(r"networkpulse_[a-z_]+", family.name)
            assert not family.name.endswith("_total")  # the parser strips it from counter families
            for sample in family.samples:
                if family.type == "counter":
                    assert sample.name == family.name + "_total"
                assert set(sample.labels) <= {"reason", "topic", "partition", "service", "le"}
                if "reason" in sample.labels:
                    assert sample.labels["reason"] in (*m.FILTER_REASONS, *m.SKIP_REASONS)
            if "duration" in family.name or "timestamp" in family.name:
                assert family.name.endswith("_seconds")
    assert ours >= 25


# ---------------------------------------------------------------------------------------------------- the CLI


def _start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    return subprocess.Popen([PULSE, *args], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)


def _wait_for(proc: subprocess.Popen[str], patterns: list[str], timeout: float = 60) -> Iterator[str]:
    """The first group of each pattern, in order, from the process's stderr lines."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    for pattern in patterns:
        while True:
            assert time.monotonic() < deadline, f"no {pattern!r} in {seen}"
            line = proc.stderr.readline()
            assert line, f"the process ended without {pattern!r}: {seen}"
            seen.append(line)
            if match := re.search(pattern, line):
                yield match[1]
                break


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        procs.append(_start(*args))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pulse_run_metrics_port_while_running(tmp_path: Path, started: Callable[..., subprocess.Popen[str]]) -> None:
    proc = started("run", str(HOUR_2015), "--store", f"sqlite:///{tmp_path / 'p.db'}", "--speed", "300x",
                   "--metrics-port", "0", "--no-progress")
    (url,) = _wait_for(proc, [r"metrics at (http://127\.0\.0\.1:\d+/metrics)"])
    deadline, events = time.monotonic() + 60, 0.0
    while events == 0 and time.monotonic() < deadline:  # the first paced batches take a moment
        samples, _ = parse(scrape(url))
        events = value(samples, "networkpulse_events_total")
        time.sleep(0.2)
    assert 0 < events < 8273  # scraped mid-run: a 1 h file at 300x takes 12 s
    assert value(samples, "networkpulse_events_filtered_total", reason="self") > 0
    assert _stop(proc) == 130


def test_pulse_demo_serves_both_metrics(started: Callable[..., subprocess.Popen[str]]) -> None:
    proc = started("demo", "--port", "0", "--metrics-port", "0", "--speed", "600x", "--retention", "100")
    pipeline_url, app_url = _wait_for(proc, [r"metrics at (http://\S+/metrics)", r"open (http://\S+)/ "])
    deadline, stored = time.monotonic() + 60, 0.0
    while stored == 0 and time.monotonic() < deadline:
        app, _ = parse(scrape(f"{app_url}/metrics"))
        stored = value(app, "networkpulse_store_windows")
        time.sleep(0.3)
    run, _ = parse(scrape(pipeline_url))
    assert stored > 0 and value(run, "networkpulse_windows_stored_total") >= stored
    assert value(run, "networkpulse_events_total") >= value(app, "networkpulse_events_total") > 0
    assert _stop(proc) in (0, 130)


def test_metrics_port_flag_errors(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run([PULSE, "run", str(HOUR_2015), "--store", f"sqlite:///{tmp_path / 'b.db'}",
                               "--metrics-port", port], env=env, capture_output=True, text=True, timeout=120)
    assert busy.returncode == 1 and f"--metrics-port {port}: cannot listen" in busy.stderr
    assert "Traceback" not in busy.stderr and not (tmp_path / "b.db").exists()
    bad = subprocess.run([PULSE, "run", "--metrics-port", "99999"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--metrics-port" in bad.stderr
    helped = subprocess.run([PULSE, "run", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert "PULSE_METRICS_PORT" in helped.stdout and "--metrics-host" in helped.stdout
