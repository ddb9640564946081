"""Events/s through the first Kafka stages — ``pulse firehose`` → raw topic → ``pulse venturi`` → interactions —
with 1 and 2 firehose producers and 1 and 2 venturi workers, next to the embedded parse rate (files → interactions
in one process, :func:`networkpulse.venturi.read_interactions`) on the same data in the same run.

Data: every real file of ../shared/data/gharchive (every era, ~26 k events), replayed ``--loops`` times (time
shifted, as the firehose does). Each stage is timed on its own: the firehose fills a fresh 2-partition raw topic
unpaced; then the venturi workers (processes, one core each) drain it, timed from the moment they are ready to
the group's consumer lag is 0 (a new group's join, ~0-3 s, is inside). The broker (a JVM) shares the
machine's 2 cores with the workers.

    bash scripts/kafka.sh start
    .venv/bin/python benchmarks/kafka_pipeline.py [--bus kafka://127.0.0.1:19092] [--loops 2] [--runs 3]

Last line: firehose_events_per_s=<n> venturi_events_per_s=<1 worker>,<2 workers> embedded_events_per_s=<n>
(medians over the runs; firehose with 2 producers).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient

from networkpulse import bus
from networkpulse.events import InputReport
from networkpulse.services.firehose import FirehoseConfig, run_firehose
from networkpulse.venturi import FilterStats, read_interactions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"
FILES = tuple(sorted(str(p) for p in DATA.glob("*.json.gz")))


def embedded(loops: int) -> float:
    """Events/s of files → interactions in this process (what the embedded mode's venturi stage does)."""
    started = time.perf_counter()
    events = 0
    for _ in range(loops):
        stats = FilterStats()
        for _batch in read_interactions(FILES, InputReport(), stats):
            pass
        events += stats.events
    return events / (time.perf_counter() - started)


def _worker(source: str, sink: str, group: str, worker: str, stop: Any, out: Any) -> None:
    import threading

    from networkpulse.services.venturi import run_venturi

    ready: list[float] = []
    done = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), done.set()), daemon=True).start()
    result = run_venturi(source, sink, group=group, worker=worker, partitions=2, stop=done,
                         on_ready=lambda: ready.append(time.time()))
    out.put((result.relay.consumed, ready[0]))


def drained(servers: str, topic: str, group: str) -> bool:
    """Whether ``group`` has committed every message of ``topic`` (its consumer lag is 0)."""
    consumer = ck.Consumer({"bootstrap.servers": servers, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([ck.TopicPartition(topic, p) for p in partitions], timeout=10)
        return all(tp.offset >= consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed)
    finally:
        consumer.close()


def venturi(source: str, sink: str, workers: int) -> tuple[float, int]:
    """Events/s of ``workers`` venturi processes draining ``source`` (from the first one ready until the group's lag
    is 0); and how many events they consumed. Lag, not an idle timeout, ends them: a worker that waits for a
    slow group join would otherwise give up while its partitions still hold data."""
    ctx = multiprocessing.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    group = f"bench-{uuid.uuid4().hex[:8]}"
    url = bus.BusUrl.parse(source)
    procs = [ctx.Process(target=_worker, args=(source, sink, group, str(i), stop, out)) for i in range(workers)]
    for p in procs:
        p.start()
    while not drained(url.servers, url.topic, group):
        time.sleep(0.2)
    ended = time.time()
    stop.set()
    done = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    return sum(d[0] for d in done) / (ended - min(d[1] for d in done)), sum(d[0] for d in done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bus", default="kafka://127.0.0.1:19092")
    parser.add_argument("--loops", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    servers = bus.BusUrl.parse(args.bus.rstrip("/") + "/x").servers
    made: list[str] = []

    def topic(name: str) -> str:
        url = f"{args.bus.rstrip('/')}/bench.{name}.{uuid.uuid4().hex[:8]}"
        made.append(bus.BusUrl.parse(url).topic)
        return url

    figures: dict[str, list[float]] = {k: [] for k in ("embedded", "firehose1", "firehose2", "venturi1", "venturi2")}
    try:
        for run in range(args.runs):
            figures["embedded"].append(embedded(args.loops))
            raw = ""
            for producers in (1, 2):
                raw = topic("raw")
                result = run_firehose(FirehoseConfig(sources=FILES, to=raw, producers=producers, loops=args.loops,
                                                     partitions=2))
                figures[f"firehose{producers}"].append(result.events_per_s)
            for workers in (1, 2):
                rate, consumed = venturi(raw, topic("interactions"), workers)
                assert consumed == result.produced, f"{consumed} of {result.produced} events consumed"
                figures[f"venturi{workers}"].append(rate)
            print(f"run {run + 1}: " + " ".join(f"{k}={v[-1]:,.0f}" for k, v in figures.items()), flush=True)
    finally:
        if made:
            admin = AdminClient({"bootstrap.servers": servers})
            existing = admin.list_topics(timeout=30).topics
            doomed = [t + s for t in made for s in ("", ".dlq") if t + s in existing]
            for future in admin.delete_topics(doomed).values():
                future.result(timeout=30)
    med = {k: statistics.median(v) for k, v in figures.items()}
    print(f"events per run: {result.produced:,} ({len(FILES)} real files × {args.loops} loops); medians of "
          f"{args.runs} runs, events/s:")
    print(f"  embedded parse (files → interactions, 1 process)  {med['embedded']:>10,.0f}")
    for n in (1, 2):
        print(f"  firehose, {n} producer(s)                         {med[f'firehose{n}']:>10,.0f}  "
              f"({med[f'firehose{n}'] / med['embedded']:.2f}× embedded)")
    for n in (1, 2):
        print(f"  venturi, {n} worker(s)                            {med[f'venturi{n}']:>10,.0f}  "
              f"({med[f'venturi{n}'] / med['embedded']:.2f}× embedded)")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"firehose_events_per_s={med['firehose2']:.0f} venturi_events_per_s={med['venturi1']:.0f},"
          f"{med['venturi2']:.0f} embedded_events_per_s={med['embedded']:.0f}")


if __name__ == "__main__":
    main()
