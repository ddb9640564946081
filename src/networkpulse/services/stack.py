"""``pulse stack``: the whole Kafka pipeline on one machine, for trials and tests.

Creates the topics, starts every service as its own process — ``workers`` venturi workers, ``workers`` forest
workers, one merger, one persister — replays the sources with ``workers`` firehose producers, and returns once
the store holds the windows of everything produced: the merger's totals stored with the windows count every
produced event, and the end-of-input (provisional) windows that follow them are stored. The services then get
SIGTERM (each commits its batch and exits 0). The services are the very commands a deployment runs
(DEPLOY.md), so the stack tests what users run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from networkpulse import bus
from networkpulse.engine.types import WindowConfig
from networkpulse.errors import PulseError
from networkpulse.services.firehose import FirehoseConfig, FirehoseResult, run_firehose
from networkpulse.settings import Pace, format_duration
from networkpulse.store import open_store

STAGES = ("raw", "interactions", "panes", "windows")


@dataclass(frozen=True, slots=True)
class StackConfig:
    sources: tuple[str, ...]
    bus: str  # kafka://HOST:PORT
    store_url: str
    window: WindowConfig
    workers: int = 1
    prefix: str = "pulse"
    pace: Pace = field(default_factory=Pace)
    partitions: int = 4
    max_line_bytes: int = 16 << 20
    timeout_s: float = 1800.0


@dataclass(slots=True)
class StackResult:
    firehose: FirehoseResult
    stats: dict[str, object]
    windows: int
    elapsed_s: float
    interrupted: bool = False


def topic_urls(bus_url: str, prefix: str) -> dict[str, str]:
    """The stack's topic URLs by stage: ``<prefix>.raw``, ``.interactions``, ``.panes``, ``.windows``."""
    base = bus_url.rstrip("/")
    return {stage: f"{base}/{prefix}.{stage}" for stage in STAGES}


def group_names(prefix: str) -> dict[str, str]:
    """The consumer group (and ``transactional.id`` root) of each stage of the pipeline on topics ``prefix``:
    ``<prefix>.venturi``, ``.forest``, ``.merger``, ``.persist`` — the services' defaults for ``pulse``. Two
    pipelines on one cluster must not share groups: static members with the same worker id in one group on
    other topics replace each other, and the pipeline just started stalls."""
    return {stage: f"{prefix}.{name}" for stage, name in
            (("venturi", "venturi"), ("forest", "forest"), ("merger", "merger"), ("persister", "persist"))}


def service_commands(config: StackConfig) -> list[tuple[str, list[str]]]:
    """``(name, argv)`` of every service process of the stack."""
    t, w, g = topic_urls(config.bus, config.prefix), config.window, group_names(config.prefix)
    pulse = [sys.executable, "-c", "from networkpulse.cli import main; main()"]
    shape = ["--window", format_duration(w.size_ms), "--slide", format_duration(w.slide_ms), "--lateness",
             format_duration(w.lateness_ms), "--min-size", str(w.min_size), *(["--rolling"] if w.rolling else [])]
    partitions = str(max(config.workers, 2))
    commands: list[tuple[str, list[str]]] = []
    for i in range(config.workers):
        commands.append((f"venturi-{i}", [*pulse, "venturi", "--from", t["raw"], "--to", t["interactions"],
                                          "--worker", str(i), "--partitions", partitions, "--group", g["venturi"]]))
        commands.append((f"forest-{i}", [*pulse, "forest", "--from", t["interactions"], "--to", t["panes"],
                                         "--slide", format_duration(w.slide_ms), "--worker", str(i),
                                         "--group", g["forest"]]))
    commands.append(("merger", [*pulse, "merge", "--from", t["panes"], "--to", t["windows"], *shape,
                                "--group", g["merger"]]))
    commands.append(("persister", [*pulse, "persist", "--from", t["windows"], "--store", config.store_url,
                                   "--group", g["persister"]]))
    return commands


def create_topics(config: StackConfig) -> None:
    """Create the stack's topics; :class:`PulseError` if its raw topic already holds a replay (a second run would
    replay the sources again behind the watermark: every event late, the windows unchanged)."""
    from networkpulse.bus.kafka import message_count

    t = topic_urls(config.bus, config.prefix)
    if message_count(t["raw"]):
        raise PulseError(f"pulse stack: {t['raw']} already holds a replay; give this run its own --topics prefix "
                         "(a deployment feeding a stream runs `pulse firehose` into the running services instead)")
    bus.create_topics(t["raw"], max(config.partitions, config.workers))
    bus.create_topics(t["interactions"], max(config.workers, 2))
    bus.create_topics(t["panes"], 1)
    bus.create_topics(t["windows"], 1)


def run_stack(config: StackConfig, stop: threading.Event | None = None) -> StackResult:
    """Run the pipeline over ``config.sources`` until the store holds their windows (see the module docstring).
    Raises :class:`PulseError` with the service's last output when a service dies."""
    started = time.monotonic()
    create_topics(config)
    logs = Path(tempfile.mkdtemp(prefix="pulse-stack-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in service_commands(config):
            with open(logs / f"{name}.log", "wb") as log:
                procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               env=env)
        fh = FirehoseConfig(sources=config.sources, to=topic_urls(config.bus, config.prefix)["raw"],
                            producers=config.workers, pace=config.pace,
                            partitions=max(config.partitions, config.workers), max_line_bytes=config.max_line_bytes)
        produced = run_firehose(fh, stop)
        stats, windows = _wait_stored(config, produced.produced, procs, logs, stop)
        interrupted = produced.interrupted or (stop is not None and stop.is_set())
        return StackResult(produced, stats, windows, time.monotonic() - started, interrupted)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_stored(config: StackConfig, produced: int, procs: dict[str, subprocess.Popen[bytes]], logs: Path,
                 stop: threading.Event | None) -> tuple[dict[str, object], int]:
    deadline = time.monotonic() + config.timeout_s
    while stop is None or not stop.is_set():
        _check_alive(procs, logs)
        try:
            with open_store(config.store_url, readonly=True) as store:
                stats = store.stats()
                latest = store.latest(max_clusters=0)
                if int(stats.get("events", 0)) >= produced and latest is not None and latest.get("provisional"):
                    return stats, int(stats.get("windows", 0))
        except PulseError:
            pass  # not created yet
        if time.monotonic() > deadline:
            raise PulseError(f"pulse stack: the store did not receive all {produced:,} events within "
                             f"{config.timeout_s:g} s; see `pulse status` and the service logs in {logs}")
        time.sleep(0.25)
    return {}, 0


def _check_alive(procs: dict[str, subprocess.Popen[bytes]], logs: Path) -> None:
    for name, proc in procs.items():
        code = proc.poll()
        if code is not None:
            tail = (logs / f"{name}.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise PulseError(f"pulse stack: service {name} exited with status {code}: " + " | ".join(tail))

