"""Events/s end to end through Kafka into PostgreSQL — ``pulse firehose`` → venturi → forest → merger → persister,
with 1 and 2 workers per scalable stage — next to the embedded mode (``pulse run`` into SQLite) on the same data in
the same run; the latency from an event's production to its window being in PostgreSQL; the merger's own ceiling.

Data: every real file of ../shared/data/gharchive (every era, ~26 k events) and ``--copies - 1`` copies of them,
copy ``k`` shifted by ``k`` days (file names too, so every run reads them in the same time order; each file is one
hour, so no two overlap; later than now would be skipped as implausible), window 10 min /
slide 1 min / lateness 30 s. (Not the firehose's ``--loops``: it shifts each loop by whole hours, `pulse run`
by whole windows, so their later loops' windows would differ by design.) Per run and worker count:

* **throughput**: the services (the very processes ``pulse stack`` starts) are started and given time to join
  their groups; the clock starts when the firehose starts (unpaced, ``workers`` producers) and stops when the store
  holds every produced event and the end-of-input windows. The stored windows are checked equal to the embedded
  run's (bounds and counts, provisional flags aside), so a fast wrong pipeline cannot score.
* **latency** (``--latency-rate`` events/s, paced, 2 workers): for every event, the time from its production (the
  raw message's CreateTime) to the moment an observer polling PostgreSQL every 50 ms first sees the first window
  that covers it (the window ending at the end of its pane). The merger waits for ``lateness`` of *event time*;
  at this replay speed that is ``lateness / speed-up`` of wall time, part of the figure.
* **merger ceiling**: the pane-forest messages of the last run, decoded once, fed to a fresh
  :class:`~networkpulse.components.Merger` in this process: pane forests/s and events/s it can fold.

The broker (a JVM) and PostgreSQL share the machine's 2 cores with every service.

    bash scripts/kafka.sh start && bash scripts/postgres.sh start
    .venv/bin/python benchmarks/kafka_pipeline.py [--bus kafka://127.0.0.1:19092] \\
        [--store postgresql://pulse:pulse@127.0.0.1:15432/pulse] [--copies 3] [--runs 3]

Last line: ``kafka_events_per_s=<n> embedded_events_per_s=<n> p99_latency_ms=<n>`` (medians over the runs; Kafka
with the better of 1 and 2 workers per stage).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import confluent_kafka as ck
import numpy as np
import numpy.typing as npt
import psycopg
from confluent_kafka.admin import AdminClient

from networkpulse import bus
from networkpulse.engine.types import WindowConfig
from networkpulse.events import expand_sources
from networkpulse.services.firehose import FirehoseConfig, run_firehose
from networkpulse.services.stack import StackConfig, group_names, service_commands, topic_urls
from networkpulse.settings import Pace
from networkpulse.store import open_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"
REAL = tuple(sorted(DATA.glob("*.json.gz")))
SHIFT = timedelta(days=1)  # each real file is one hour: shifted copies never overlap it or each other
WINDOW = WindowConfig(size_ms=600_000, slide_ms=60_000, lateness_ms=30_000)
PULSE = [sys.executable, "-c", "from networkpulse.cli import main; main()"]


def shifted_copies(copies: int, tmp: Path) -> tuple[str, ...]:
    """The real files and ``copies - 1`` copies, copy ``k`` shifted by ``k × SHIFT`` (events and file names)."""
    out = [str(p) for p in REAL]
    for k in range(1, copies):
        for path in REAL:
            day, rest = path.name[:10], path.name[11:]  # 2015-01-01, 12.json.gz (or 15.first2048.json.gz)
            hour = rest.split(".")[0]
            moved = datetime.fromisoformat(f"{day}T{int(hour):02d}:00:00") + k * SHIFT
            name = f"{moved:%Y-%m-%d}-{moved.hour}{rest[len(hour):]}"
            lines = []
            for line in gzip.decompress(path.read_bytes()).splitlines():
                event = json.loads(line)
                at = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00")) + k * SHIFT
                event["created_at"] = at.isoformat().replace("+00:00", "Z")
                lines.append(json.dumps(event))
            (tmp / name).write_bytes(gzip.compress("\n".join(lines).encode() + b"\n"))
            out.append(str(tmp / name))
    return tuple(expand_sources(out))  # in event-time order, as `pulse run` and `pulse firehose` read them


def embedded(files: tuple[str, ...], tmp: Path) -> tuple[float, list[tuple[int, int, int, int]]]:
    """Events/s of ``pulse run`` (files → SQLite, this machine's both cores) and its windows' keys and counts.
    Timed by the run's own report (from the first event read; the interpreter's start-up and imports are not in
    it, as the Kafka services' start-up is not in theirs)."""
    store = f"sqlite:///{tmp}/embedded-{uuid.uuid4().hex[:6]}.db"
    out = subprocess.run([*PULSE, "run", *files, "--store", store, "--window", "10m", "--slide", "1m",
                          "--lateness", "30s"], capture_output=True, text=True, check=False)
    rate = re.search(r"\(([\d,]+) events/s\)", out.stderr)
    if out.returncode not in (0, 3) or rate is None:
        raise SystemExit(f"pulse run failed ({out.returncode}): {out.stderr[-2000:]}")
    return float(rate.group(1).replace(",", "")), _windows(store)


def _windows(url: str) -> list[tuple[int, int, int, int]]:
    """Every stored window's bounds, events and distinct edges, in order."""
    with open_store(url, readonly=True) as store:
        rows, after = [], 0
        while page := store.windows_after(after, limit=1000, max_clusters=0):
            rows += [(w["start_ms"], w["end_ms"], w["events"], w["edges"]) for w in page]
            after = page[-1]["id"]
        return rows


def _schema_url(base: str, conn: psycopg.Connection[Any]) -> tuple[str, str]:
    schema = f"pulse_bench_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def _groups_ready(admin: AdminClient, expected: dict[str, int]) -> bool:
    described = admin.describe_consumer_groups(list(expected))
    try:
        return all(len(f.result(timeout=10).members) >= expected[g] for g, f in described.items())
    except ck.KafkaException:
        return False


class Stack:
    """The pipeline's services as processes (what ``pulse stack`` starts), on topics of their own."""

    def __init__(self, files: tuple[str, ...], bus_url: str, store_url: str, workers: int, logs: Path) -> None:
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.config = StackConfig(sources=files, bus=bus_url, store_url=store_url, window=WINDOW, workers=workers,
                                  prefix=self.prefix, partitions=max(2, workers))
        self.topics = topic_urls(bus_url, self.prefix)
        self.servers = bus.BusUrl.parse(self.topics["raw"]).servers
        from networkpulse.services.stack import create_topics

        create_topics(self.config)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        self.procs = []
        for name, argv in service_commands(self.config):
            with open(logs / f"{self.prefix}-{name}.log", "wb") as log:
                self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env))
        # The persister assigns itself its partition (no group membership to wait for); it starts as fast as the
        # merger, whose readiness is waited for.
        groups = group_names(self.prefix)
        expected = {groups["venturi"]: workers, groups["forest"]: workers, groups["merger"]: 1}
        admin = AdminClient({"bootstrap.servers": self.servers})
        deadline = time.monotonic() + 300
        while not _groups_ready(admin, expected):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise SystemExit(f"the services did not start; see {logs}")
            time.sleep(0.5)
        time.sleep(2)  # the last member's assignment settles

    def produce(self, pace: Pace) -> int:
        config = FirehoseConfig(sources=self.config.sources, to=self.topics["raw"], producers=self.config.workers,
                                pace=pace, partitions=self.config.partitions)
        return run_firehose(config).produced

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def _stored_all(store_url: str, produced: int) -> bool:
    try:
        with open_store(store_url, readonly=True) as store:
            latest = store.latest(max_clusters=0)
            return int(store.stats().get("events", 0)) >= produced and bool(latest and latest.get("provisional"))
    except Exception:
        return False


def throughput(files: tuple[str, ...], bus_url: str, store_url: str, workers: int,
               logs: Path) -> tuple[float, int, Stack]:
    stack = Stack(files, bus_url, store_url, workers, logs)
    try:
        started = time.monotonic()
        produced = stack.produce(Pace())
        while not _stored_all(store_url, produced):
            if any(p.poll() is not None for p in stack.procs):
                raise SystemExit(f"a service died; see {logs}")
            time.sleep(0.05)
        return produced / (time.monotonic() - started), produced, stack
    finally:
        stack.stop()


def latency(files: tuple[str, ...], bus_url: str, store_url: str, rate: float,
            logs: Path) -> npt.NDArray[np.float64]:
    """Per-event latencies (ms) from production to the first window that covers it being visible in PostgreSQL."""
    import threading

    stack = Stack(files, bus_url, store_url, 2, logs)
    seen: dict[int, float] = {}  # window end_ms -> wall ms when first visible
    done = threading.Event()

    def observe() -> None:
        after = 0
        while not done.is_set():
            try:
                with open_store(store_url, readonly=True) as store:
                    while not done.is_set():
                        page = store.windows_after(after, limit=1000, max_clusters=0)
                        now = time.time() * 1000
                        for w in page:
                            seen.setdefault(w["end_ms"], now)
                            after = w["id"]
                        time.sleep(0.05)
            except Exception:
                time.sleep(0.05)  # the store does not exist before the first window

    observer = threading.Thread(target=observe, daemon=True)
    observer.start()
    try:
        produced = stack.produce(Pace(rate=rate))
        while not _stored_all(store_url, produced):
            time.sleep(0.05)
    finally:
        done.set()
        observer.join()
        stack.stop()
    from networkpulse.bus.raw_event import read_record

    consumer = ck.Consumer({"bootstrap.servers": stack.servers, "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([bus.BusUrl.parse(stack.topics["raw"]).topic])
    lat: list[float] = []
    got, idle = 0, 0
    while got < produced and idle < 20:
        batch = consumer.consume(10_000, 1.0)
        idle = 0 if batch else idle + 1
        for m in batch:
            if m.error():
                continue
            got += 1
            at = read_record(m.value())["created_at"]
            event_ms = int(at.timestamp() * 1000)
            end = (event_ms // WINDOW.slide_ms + 1) * WINDOW.slide_ms
            if end in seen:
                lat.append(seen[end] - m.timestamp()[1])
    consumer.close()
    return np.asarray(lat, dtype=np.float64)



def merger_ceiling(panes_url: str) -> tuple[float, float]:
    """Pane forests/s and events/s a fresh merger folds, from the pane-forest messages of a finished run."""
    from networkpulse.bus.avro import decode_pane_parts
    from networkpulse.components import Merger

    url = bus.BusUrl.parse(panes_url)
    consumer = ck.Consumer({"bootstrap.servers": url.servers, "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False,
                            "isolation.level": "read_committed"})
    consumer.subscribe([url.topic])
    parts, idle = [], 0
    while idle < 5:
        batch = consumer.consume(10_000, 1.0)
        idle = 0 if batch else idle + 1
        parts += [decode_pane_parts(m.value()) for m in batch if not m.error() and m.value()]
    consumer.close()
    merger = Merger(WINDOW)
    merger.add(parts[0], 0.0)  # JIT warm-up outside the clock
    merger = Merger(WINDOW)
    started = time.perf_counter()
    for p in parts:
        merger.add(p, 0.0)
    elapsed = time.perf_counter() - started
    return len(parts) / elapsed, merger.events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bus", default="kafka://127.0.0.1:19092")
    parser.add_argument("--store", default="postgresql://pulse:pulse@127.0.0.1:15432/pulse")
    parser.add_argument("--copies", type=int, default=3, help="the real files plus this many - 1 shifted copies")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-rate", type=float, default=2000.0, help="events/s of the paced latency run")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    files = shifted_copies(args.copies, tmp)
    admin_conn = psycopg.connect(args.store, autocommit=True)
    schemas: list[str] = []
    prefixes: list[str] = []
    figures: dict[str, list[float]] = {k: [] for k in ("embedded", "kafka1", "kafka2", "p50", "p99", "panes_s",
                                                       "merger_events_s")}
    try:
        for run in range(args.runs):
            rate, expected = embedded(files, tmp)
            figures["embedded"].append(rate)
            panes = ""
            for workers in (1, 2):
                schema, url = _schema_url(args.store, admin_conn)
                schemas.append(schema)
                kafka_rate, produced, stack = throughput(files, args.bus, url, workers, tmp)
                prefixes.append(stack.prefix)
                got = _windows(url)
                if got != expected:
                    differ = sum(a != b for a, b in zip(got, expected, strict=False))
                    raise SystemExit(f"{workers} worker(s): the stored windows differ from the embedded run's "
                                     f"({len(got)} vs {len(expected)} windows, {differ} differ)")
                figures[f"kafka{workers}"].append(kafka_rate)
                panes = stack.topics["panes"]
            schema, url = _schema_url(args.store, admin_conn)
            schemas.append(schema)
            lat = latency(tuple(str(p) for p in REAL), args.bus, url, args.latency_rate, tmp)
            figures["p50"].append(float(np.percentile(lat, 50)))
            figures["p99"].append(float(np.percentile(lat, 99)))
            panes_s, events_s = merger_ceiling(panes)
            figures["panes_s"].append(panes_s)
            figures["merger_events_s"].append(events_s)
            print(f"run {run + 1}: " + " ".join(f"{k}={v[-1]:,.0f}" for k, v in figures.items()), flush=True)
    finally:
        for schema in schemas:
            admin_conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin_conn.close()
        servers = bus.BusUrl.parse(args.bus.rstrip("/") + "/x").servers
        admin = AdminClient({"bootstrap.servers": servers})
        existing = admin.list_topics(timeout=30).topics
        doomed = [t for t in existing if any(t.startswith(p + ".") for p in prefixes)]
        if doomed:
            for future in admin.delete_topics(doomed).values():
                future.result(timeout=30)
    med = {k: statistics.median(v) for k, v in figures.items()}
    kafka = max(med["kafka1"], med["kafka2"])
    print(f"events per run: {produced:,} ({len(REAL)} real files × {args.copies} copies); medians of {args.runs} "
          "runs; stored windows equal the embedded run's in every run")
    if produced < args.copies * 20_000:
        raise SystemExit(f"only {produced:,} events produced: were copies skipped (see pulse run's report)?")
    print(f"  embedded, pulse run → SQLite              {med['embedded']:>10,.0f} events/s")
    for n in (1, 2):
        print(f"  Kafka → PostgreSQL, {n} worker(s) per stage  {med[f'kafka{n}']:>10,.0f} events/s  "
              f"({med[f'kafka{n}'] / med['embedded']:.2f}× embedded)")
    print(f"  latency production → window in PostgreSQL at {args.latency_rate:,.0f} events/s: "
          f"p50 {med['p50']:,.0f} ms, p99 {med['p99']:,.0f} ms")
    print(f"  merger ceiling: {med['panes_s']:,.0f} pane forests/s = {med['merger_events_s']:,.0f} events/s")
    print(f"kafka_events_per_s={kafka:.0f} embedded_events_per_s={med['embedded']:.0f} "
          f"p99_latency_ms={med['p99']:.0f}")


if __name__ == "__main__":
    main()
