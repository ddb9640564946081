"""pulse firehose → pulse venturi against the real broker: the interactions on the output topic are exactly, as a
multiset, those of ``pulse export interactions`` for the same files — with 1 and 2 workers, across a kill -9 of a
worker, and with poison messages on the raw topic."""

from __future__ import annotations

import gzip
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from networkpulse import bus
from networkpulse.bus.base import BusError
from networkpulse.services.firehose import FirehoseConfig, run_firehose
from networkpulse.services.venturi import run_venturi
from networkpulse.settings import Pace

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
FILES = sorted(str(p) for p in DATA.glob("*.json.gz"))
PULSE = Path(sys.executable).with_name("pulse")
Row = tuple[str, str, str, str, int, str]
pytestmark = [
    pytest.mark.kafka,
    # At collection, so the module fixtures (an export, a replay) do not run for nothing.
    pytest.mark.skipif(not os.environ.get("PULSE_TEST_KAFKA"), reason="PULSE_TEST_KAFKA is unset: run "
                       "`bash scripts/kafka.sh start` and export its last line as PULSE_TEST_KAFKA"),
]


@pytest.fixture(scope="module")
def expected() -> Counter[Row]:
    """The interactions `pulse export interactions` gives for every real file, as a multiset."""
    out = subprocess.run([str(PULSE), "export", "interactions", *FILES], capture_output=True, text=True, check=True)
    rows = (json.loads(line) for line in out.stdout.splitlines())
    return Counter((r["src"], r["dst"], r["kind"], r["type"], r["created_at_ms"], r["event_id"]) for r in rows)


@pytest.fixture(scope="module")
def raw(module_topic: Callable[[str], str]) -> str:
    """Every real file replayed once by 2 producers onto a 4-partition raw topic."""
    url = module_topic("svc.raw")
    result = run_firehose(FirehoseConfig(sources=tuple(FILES), to=url, producers=2, partitions=4))
    assert (result.produced, result.report.skipped, result.loops) == (result.report.events, 0, 1)
    return url


def interactions(url: str, idle_s: float = 2.0) -> Iterator[Row]:
    """Every interaction committed on ``url``, read by a new group until nothing came for ``idle_s``."""
    from networkpulse.bus.avro import decode_interactions

    source = bus.open_source(url, group=f"check-{uuid.uuid4().hex[:8]}")
    try:
        batch = source.poll(1000, 15)  # a new group takes a moment to form
        while batch:
            for message in batch:
                b = decode_interactions(message.value())
                yield from zip(b.src, b.dst, b.kind, b.event_type, b.created_at_ms.tolist(), b.event_id, strict=True)
            batch = source.poll(1000, idle_s)
    finally:
        source.close()


def wait_for(url: str, count: int, timeout_s: float = 180) -> int:
    """Wait until ``url`` holds ``count`` interactions; how many it holds."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        try:
            seen = sum(1 for _ in interactions(url, idle_s=1.0))
        except BusError:  # the workers create the output topic when they start, maybe after this first look
            seen = 0
        if seen >= count:
            break
        time.sleep(1)
    return seen


def lost_and_duplicated(expected: Counter[Row], url: str) -> tuple[int, int]:
    got = Counter(interactions(url))
    return sum((expected - got).values()), sum((got - expected).values())


def wait_assigned(url: str, group: str, members: int, timeout_s: float = 120) -> None:
    """Until ``group`` has ``members`` members, each assigned partitions of ``url``'s topic."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bus.BusUrl.parse(url).servers})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = admin.describe_consumer_groups([group])[group].result(timeout=10)
        if len(described.members) == members and all(m.assignment.topic_partitions for m in described.members):
            return
        time.sleep(0.2)
    raise AssertionError(f"{group} did not get {members} members with partitions within {timeout_s} s")


def run_workers(
    source: str, sink: str, workers: int, until: Callable[[], object], max_batch: int = 2000, group: str = ""
) -> list[Any]:
    """``workers`` venturi workers of one group in threads until ``until()``; their results."""
    group = group or f"svc-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    results: list[Any] = [None] * workers
    # Every worker subscribes before any polls: the input is all there, so a worker whose transactional start-up
    # (fencing) happened to finish first would otherwise drain every partition before the other joined.
    together = threading.Barrier(workers, timeout=120)

    def work(i: int) -> None:
        results[i] = run_venturi(source, sink, group=group, worker=str(i), partitions=2, stop=stop,
                                 max_batch=max_batch, on_ready=together.wait)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    try:
        until()
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert all(r is not None for r in results), "a worker failed"
    return results


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_firehose_then_venturi_gives_exactly_the_exported_interactions(
    raw: str, new_topic: Callable[[str], str], expected: Counter[Row], workers: int
) -> None:
    out = new_topic("svc.out")
    bus.create_topics(out, 2)  # before anything reads it (the workers would create it too)
    total = sum(expected.values())
    if workers == 1:
        results = run_workers(raw, out, 1, lambda: wait_for(out, total))
    else:
        # Replayed once both members hold partitions: on a prefilled topic the member whose start-up finished
        # first could drain every partition before the other joined (it did on loaded CI), testing one worker.
        fresh, group = new_topic("svc.raw2"), f"svc-{uuid.uuid4().hex[:8]}"
        bus.create_topics(fresh, 4)

        def replay_then_wait() -> None:
            wait_assigned(fresh, group, 2)
            run_firehose(FirehoseConfig(sources=tuple(FILES), to=fresh, producers=2, partitions=4))
            wait_for(out, total)

        results = run_workers(fresh, out, 2, replay_then_wait, group=group)
    assert sum(r.relay.dead_letters for r in results) == 0
    if workers == 2:
        assert all(r.relay.consumed for r in results), "one worker did all the work: the group did not split"
    assert lost_and_duplicated(expected, out) == (0, 0)


class Worker:
    """A `pulse venturi` process; its stderr lines arrive on a queue, so waiting for them can time out."""

    def __init__(self, source: str, sink: str, group: str, worker: str) -> None:
        self.proc = subprocess.Popen(
            [str(PULSE), "venturi", "--from", source, "--to", sink, "--group", group, "--worker", worker,
             "--partitions", "2", "--max-batch", "300"],
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr or ():
            self.lines.put(line)
        self.lines.put("")  # end of output

    def wait_ready(self) -> None:
        line = self.lines.get(timeout=60)
        assert "consuming" in line, f"the worker did not start: {line!r}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def stop(self) -> str:
        """SIGTERM: the worker commits its batch, exits 0 and prints its summary."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0
        lines = []
        while line := self.lines.get(timeout=10):
            lines.append(line)
        return "".join(lines)


@pytest.mark.slow
def test_kill_9_of_a_venturi_worker_loses_and_duplicates_nothing(
    new_topic: Callable[[str], str], expected: Counter[Row]
) -> None:
    """Two `pulse venturi` processes read a raw topic that the firehose fills at 5 000 events/s; worker 0 is killed
    with SIGKILL at a random point 1-4 s into the replay (batches of 300 events: mid-batch, between sending and
    committing, or while polling) and restarted with the same id."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    raw, out = new_topic("svc.crash.raw"), new_topic("svc.crash")
    bus.create_topics(raw, 2)
    bus.create_topics(out, 2)
    total = sum(expected.values())
    group = f"crash-{uuid.uuid4().hex[:8]}"
    workers = {w: Worker(raw, out, group, w) for w in ("0", "1")}
    summaries = []
    try:
        for w in workers.values():
            w.wait_ready()
        replay = threading.Thread(target=run_firehose, args=(
            FirehoseConfig(sources=tuple(FILES), to=raw, pace=Pace(rate=5000), partitions=2),))
        replay.start()
        time.sleep(rng.uniform(1, 4))
        workers["0"].kill()
        killed_mid_run = replay.is_alive()
        workers["0"] = Worker(raw, out, group, "0")
        workers["0"].wait_ready()
        replay.join(300)
        assert killed_mid_run, f"the replay was over before the kill: nothing was tested (seed {seed})"
        assert wait_for(out, total) >= total
    finally:
        summaries = [w.stop() for w in workers.values() if w.proc.poll() is None]
    assert all("messages consumed" in s for s in summaries), summaries
    assert lost_and_duplicated(expected, out) == (0, 0), f"seed {seed}"


def test_poison_messages_go_to_the_dead_letter_topic_and_venturi_goes_on(
    new_topic: Callable[[str], str], tmp_path: Path
) -> None:
    from networkpulse.bus.raw_event import encode_raw_event
    from networkpulse.events import InputReport
    from networkpulse.venturi import FilterStats, read_interactions

    src, out = new_topic("svc.poison"), new_topic("svc.poison.out")
    bus.create_topics(src, 1)
    lines = gzip.decompress(Path(FILES[-1]).read_bytes()).splitlines()[:300]  # the 2025 file
    path = tmp_path / "events.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    want: Counter[Row] = Counter()
    for b in read_interactions([str(path)], InputReport(), FilterStats()):
        want.update(zip(b.src, b.dst, b.kind, b.event_type, b.created_at_ms.tolist(), b.event_id, strict=True))
    poison = {
        b"not avro at all": "bad_magic",
        encode_raw_event({"type": "PushEvent"}): "bad_body",  # Avro, but no created_at: not an event
        encode_raw_event(json.loads(lines[0]))[:30]: "truncated",
    }
    good = [encode_raw_event(json.loads(line)) for line in lines]
    sink = bus.open_sink(src)
    sink.send((None, v) for v in [*good[:150], *poison, *good[150:]])
    sink.flush()
    [result] = run_workers(src, out, 1, lambda: wait_for(out, sum(want.values())), max_batch=100)
    assert result.relay.dead_letters == len(poison)
    assert lost_and_duplicated(want, out) == (0, 0)
    dead = list(_wait_messages(src + ".dlq", len(poison)))
    assert sorted(m.value() for m in dead) == sorted(poison)
    assert {m.value(): dict(m.headers())["pulse.dlq.reason"].decode() for m in dead} == poison


def _wait_messages(url: str, count: int, timeout_s: float = 120) -> Iterator[Any]:
    source = bus.open_source(url, group=f"dlq-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + timeout_s
    seen = 0
    try:
        while seen < count and time.monotonic() < deadline:
            batch = source.poll(100, 1)
            seen += len(batch)
            yield from batch
    finally:
        source.close()
