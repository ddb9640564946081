"""Exactly-once consume→produce throughput of networkpulse.bus on the broker of scripts/kafka.sh, next to its
baselines measured in the same run on the same input topic:

- ``read``: a plain consumer-group member reading the topic (no output): the ceiling of any loop;
- ``at_least_once``: consume, produce, flush, commit offsets per batch (no transaction; a crash duplicates);
- ``exactly_once``: :func:`networkpulse.bus.relay` over a :class:`~networkpulse.bus.kafka.KafkaLink`: one
  transaction per batch holding the output and the input offsets.

The step passes messages through unchanged, so the figures are the bus's, not a stage's. Two message kinds: real
GH Archive events as raw-event Avro (~1.7 KB; every file of ../shared/data/gharchive, cycled) and 100-byte
messages (the size of a small interaction batch). Also the Avro codec's own rates on one core. One process, so the
broker (a JVM) and the loop share the machine's cores.

    bash scripts/kafka.sh start
    .venv/bin/python benchmarks/kafka_bus.py [--bus kafka://127.0.0.1:19092] [--messages 200000] [--runs 3]

Last line: kafka_txn_msgs_per_s=<n> at_least_once_msgs_per_s=<n> read_msgs_per_s=<n> ratio=<txn/at_least_once>
(medians for the Avro events).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from networkpulse import bus
from networkpulse.bus.avro import decode_interactions, decode_raw_event, encode_interactions, encode_raw_event
from networkpulse.events import InputReport
from networkpulse.venturi import FilterStats, read_interactions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"


def avro_events() -> list[bytes]:
    events = []
    for path in sorted(DATA.glob("*.json.gz")):
        with gzip.open(path) as lines:
            events += [encode_raw_event(json.loads(line)) for line in lines]
    return events


def fill(url: str, values: list[bytes], count: int) -> float:
    """Produce ``count`` messages cycling over ``values``; returns messages/s of the idempotent producer."""
    sink = bus.open_sink(url)
    started = time.perf_counter()
    sink.send((b"%d" % i, values[i % len(values)]) for i in range(count))
    sink.flush()
    return count / (time.perf_counter() - started)


def timed(count: int, loop: Callable[[Callable[[int], bool]], None]) -> float:
    """Messages/s of ``loop(done)`` from its first message to its last, where ``done(n)`` counts ``n`` more
    messages and says whether all ``count`` were handled (the group's start-up is not timed)."""
    seen = 0
    first = 0.0

    def done(n: int) -> bool:
        nonlocal seen, first
        if not seen:
            first = time.perf_counter()
        seen += n
        return seen >= count

    loop(done)
    return count / (time.perf_counter() - first)


def read(src: str, count: int, batch: int) -> float:
    def loop(done: Callable[[int], bool]) -> None:
        source = bus.open_source(src, group=f"bench-read-{uuid.uuid4().hex[:8]}")
        while not done(len(source.poll(batch, 1))):
            pass
        source.close()

    return timed(count, loop)


def at_least_once(src: str, dst: str, count: int, batch: int) -> float:
    def loop(done: Callable[[int], bool]) -> None:
        source = bus.open_source(src, group=f"bench-alo-{uuid.uuid4().hex[:8]}")
        sink = bus.open_sink(dst)
        while True:
            messages = source.poll(batch, 1)
            sink.send((m.key(), m.value()) for m in messages)
            sink.flush()
            source.commit()
            if done(len(messages)):
                break
        source.close()

    return timed(count, loop)


def exactly_once(src: str, dst: str, count: int, batch: int) -> tuple[float, bus.RelayStats]:
    stop = threading.Event()
    stats = bus.RelayStats()

    def loop(done: Callable[[int], bool]) -> None:
        nonlocal stats
        link = bus.open_link(src, dst, group=f"bench-eos-{uuid.uuid4().hex[:8]}", worker="0")

        def step(values: list[bytes]) -> list[tuple[bytes | None, bytes]]:
            if done(len(values)):
                stop.set()
            return [(None, v) for v in values]

        stats = bus.relay(link, bytes, step, max_batch=batch, stop=stop)
        link.close()

    return timed(count, loop), stats


def codec_rates() -> str:
    """Avro codec rates on one core, next to ``json.loads`` of the same events (the machine is shared: compare the
    ratio, not the absolute figure)."""
    values = avro_events()
    objects = [decode_raw_event(v) for v in values]
    lines = [json.dumps(o).encode() for o in objects]

    def rate(fn: Callable[[object], object], items: list[Any]) -> float:
        started = time.perf_counter()
        for item in items:
            fn(item)
        return len(items) / (time.perf_counter() - started)

    batches = list(read_interactions(sorted(map(str, DATA.glob("*.json.gz"))), InputReport(), FilterStats()))
    rows = sum(len(b) for b in batches)
    messages = [encode_interactions(b) for b in batches]
    rows_encode = rate(encode_interactions, batches) * rows / len(batches)
    rows_decode = rate(decode_interactions, messages) * rows / len(messages)
    return (
        f"avro codec, one core: raw events encode {rate(encode_raw_event, objects):,.0f}/s, "
        f"decode {rate(decode_raw_event, values):,.0f}/s ({sum(map(len, values)) / len(values):,.0f} B each; "
        f"json.loads of the same events {rate(json.loads, lines):,.0f}/s); "
        f"interaction rows encode {rows_encode:,.0f}/s, decode {rows_decode:,.0f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bus", default="kafka://127.0.0.1:19092")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000, help="messages per poll (and per transaction)")
    parser.add_argument("--partitions", type=int, default=2)
    args = parser.parse_args()
    base = args.bus.rstrip("/")
    print(codec_rates())
    kinds = {"avro events": avro_events(), "100 B": [bytes(100)]}
    topics: list[str] = []
    headline: dict[str, float] = {}
    for kind, values in kinds.items():
        tag = uuid.uuid4().hex[:8]
        src, dst = f"{base}/bench.in.{tag}", f"{base}/bench.out.{tag}"
        for url in (src, dst):
            bus.create_topics(url, args.partitions)
            topics += [bus.BusUrl.parse(url).topic, bus.BusUrl.parse(url).topic + bus.DLQ_SUFFIX]
        produced = fill(src, values, args.messages)
        figures: dict[str, list[float]] = {"read": [], "at_least_once": [], "exactly_once": []}
        for _ in range(args.runs):
            figures["read"].append(read(src, args.messages, args.batch))
            figures["at_least_once"].append(at_least_once(src, dst, args.messages, args.batch))
            rate, stats = exactly_once(src, dst, args.messages, args.batch)
            figures["exactly_once"].append(rate)
        medians = {name: statistics.median(rates) for name, rates in figures.items()}
        print(
            f"{kind}: {args.messages:,} messages, {args.partitions} partitions, batch {args.batch:,}, "
            f"{args.runs} runs (median msg/s): read {medians['read']:,.0f}, at-least-once "
            f"{medians['at_least_once']:,.0f}, exactly-once {medians['exactly_once']:,.0f} "
            f"({stats.commits} transactions in the last run); producer fill {produced:,.0f}"
        )
        if kind == "avro events":
            headline = medians
    servers = bus.BusUrl.parse(f"{base}/x").servers
    admin = AdminClient({"bootstrap.servers": servers})  # held until the futures resolve
    for future in admin.delete_topics(topics).values():
        future.result(timeout=30)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    print(
        f"kafka_txn_msgs_per_s={headline['exactly_once']:.0f} at_least_once_msgs_per_s={headline['at_least_once']:.0f} "
        f"read_msgs_per_s={headline['read']:.0f} ratio={headline['exactly_once'] / headline['at_least_once']:.2f}"
    )


if __name__ == "__main__":
    main()
