"""kafka:// against the real broker of scripts/kafka.sh: exactly once under kill -9, dead letters, fencing."""

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

import msgspec
import pytest

from networkpulse import bus
from networkpulse.bus import BusError, BusUrl, FencedError
from networkpulse.bus.raw_event import decode_raw_event, encode_raw_event

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
WORKER = Path(__file__).with_name("crash_worker.py")
NewTopic = Callable[..., str]


def real_events(per_file: int) -> list[dict[str, Any]]:
    """The first ``per_file`` events of every real file: every GH Archive era."""
    events = []
    for path in sorted(DATA.glob("*.json.gz")):
        with gzip.open(path) as lines:
            events += [json.loads(line) for _, line in zip(range(per_file), lines, strict=False)]
    return events


def produce(url: str, values: list[bytes]) -> None:
    sink = bus.open_sink(url)
    sink.send((b"%d" % i, value) for i, value in enumerate(values))  # keyed: spread over the partitions
    sink.flush()
    sink.close()


def consume_all(url: str, idle_s: float = 1.5) -> Iterator[Any]:
    """Every committed message of ``url``, read by a new group until nothing came for ``idle_s`` (the first
    message may take longer: the new group has to form)."""
    source = bus.open_source(url, group=f"check-{uuid.uuid4().hex[:8]}")
    try:
        batch = source.poll(10_000, 10)
        while batch:
            yield from batch
            batch = source.poll(10_000, idle_s)
    finally:
        source.close()


def canonical(event: dict[str, Any]) -> bytes:
    return msgspec.json.encode(event, order="sorted")


def lost_and_duplicated(sent: list[dict[str, Any]], out_url: str) -> tuple[int, int]:
    want = Counter(canonical(e) for e in sent)
    got = Counter(canonical(decode_raw_event(m.value())) for m in consume_all(out_url))
    return sum((want - got).values()), sum((got - want).values())


def relay_until(link: bus.Link, count: int) -> bus.RelayStats:
    """Relay raw events until ``count`` messages were decoded (dead letters included), then commit and stop; a
    minute at most. Counting, not an idle timeout, ends it: a loaded machine may take seconds to form the group."""
    stop = threading.Event()
    seen = 0

    def decode(value: bytes) -> dict[str, Any]:
        nonlocal seen
        seen += 1
        if seen >= count:
            stop.set()
        return decode_raw_event(value)

    deadline = threading.Timer(60, stop.set)
    deadline.start()
    try:
        return bus.relay(link, decode, lambda events: [(None, encode_raw_event(e)) for e in events], stop=stop)
    finally:
        deadline.cancel()


def test_unreachable_broker_says_how_to_start_one() -> None:
    from networkpulse.bus.kafka import check_topics

    with pytest.raises(BusError, match=r"no broker answered.*bash scripts/kafka.sh start"):
        check_topics(BusUrl.parse("kafka://127.0.0.1:1/raw"), ["raw"], timeout_s=1)


@pytest.mark.kafka
def test_broker_keeps_old_timestamps_and_creates_no_topic_by_accident(kafka_url: str) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": BusUrl.parse(kafka_url + "/x").servers})
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["log.retention.ms"].value == "-1"  # GH Archive event times are years old
    assert configs["auto.create.topics.enable"].value == "false"
    assert configs["transaction.state.log.replication.factor"].value == "1"
    assert configs["transaction.state.log.min.isr"].value == "1"
    with pytest.raises(BusError, match=r"does not exist.*create_topics"):
        bus.open_sink(f"{kafka_url}/no.such.topic.{uuid.uuid4().hex}")


@pytest.mark.kafka
def test_real_events_pass_a_transactional_relay_exactly_once(new_topic: NewTopic) -> None:
    src, dst = new_topic("once.in", 3), new_topic("once.out", 2)
    events = real_events(400)
    produce(src, [encode_raw_event(e) for e in events])
    link = bus.open_link(src, dst, group=f"once-{uuid.uuid4().hex[:8]}", worker="0")
    stats = relay_until(link, len(events))
    link.close()
    assert (stats.consumed, stats.produced, stats.dead_letters, stats.aborts) == (len(events), len(events), 0, 0)
    assert lost_and_duplicated(events, dst) == (0, 0)


@pytest.mark.kafka
def test_poison_messages_go_to_the_dead_letter_topic_and_the_relay_goes_on(new_topic: NewTopic) -> None:
    src, dst = new_topic("poison.in", 2), new_topic("poison.out", 1)
    events = real_events(50)
    good = [encode_raw_event(e) for e in events]
    poison = {
        b"": "bad_magic",
        b'{"type":"PushEvent"}': "bad_magic",
        b"\xc3\x01" + b"\x01" * 8 + good[0][10:]: "unknown_schema",
        good[0][:40]: "truncated",
        good[0] + b"junk": "trailing_bytes",
    }
    values = good[:100] + list(poison) + good[100:]
    produce(src, values)
    link = bus.open_link(src, dst, group=f"poison-{uuid.uuid4().hex[:8]}", worker="0")
    stats = relay_until(link, len(values))
    link.close()
    assert (stats.consumed, stats.dead_letters) == (len(values), len(poison))
    assert lost_and_duplicated(events, dst) == (0, 0)
    dead = list(consume_all(src + ".dlq"))
    assert sorted(m.value() for m in dead) == sorted(poison)
    for message in dead:
        headers = dict(message.headers())
        assert headers["pulse.dlq.reason"].decode() == poison[message.value()]
        topic, partition, offset = headers["pulse.dlq.source"].decode().rsplit(":", 2)
        assert topic == BusUrl.parse(src).topic and int(partition) in (0, 1) and int(offset) >= 0
        assert headers["pulse.dlq.error"].startswith(b"undecodable message")


@pytest.mark.kafka
def test_a_source_group_resumes_after_its_last_commit(new_topic: NewTopic) -> None:
    url = new_topic("source", 1)
    produce(url, [b"%d" % i for i in range(10)])
    group = f"source-{uuid.uuid4().hex[:8]}"
    source = bus.open_source(url, group=group)
    seen = []
    while len(seen) < 4:
        seen += [m.value() for m in source.poll(4 - len(seen), 5)]
    source.commit()
    while len(seen) < 10:
        seen += [m.value() for m in source.poll(10, 5)]
    source.close()  # closed after reading 10 and committing 4
    again = bus.open_source(url, group=group)
    rest = []
    while len(rest) < 6:
        rest += [m.value() for m in again.poll(10, 5)]
    again.close()
    assert rest == [b"%d" % i for i in range(4, 10)]


@pytest.mark.kafka
def test_an_uncommitted_transaction_is_invisible_and_its_input_comes_again(new_topic: NewTopic) -> None:
    src, dst = new_topic("abort.in", 1), new_topic("abort.out", 1)
    produce(src, [b"a", b"b", b"c"])
    group = f"abort-{uuid.uuid4().hex[:8]}"
    first = bus.open_link(src, dst, group=group, worker="0")
    polled = []
    while len(polled) < 3:
        polled += [m.value() for m in first.poll(10, 5)]
    first.send([(None, b"half done")])
    first._abort()  # what commit() does when the broker aborts the transaction: rewind and read again
    rewound = []
    while len(rewound) < 3:
        rewound += [m.value() for m in first.poll(10, 5)]
    assert rewound == polled
    first.send([(None, b"half done")])
    first.close()  # aborts
    produce(dst, [b"marker"])  # a read_committed reader that reaches it has passed the aborted message
    assert [m.value() for m in consume_all(dst)] == [b"marker"]
    second = bus.open_link(src, dst, group=group, worker="0")
    again = []
    while len(again) < 3:
        again += [m.value() for m in second.poll(10, 5)]
    assert again == polled == [b"a", b"b", b"c"]
    second.send([(None, b"done")])
    assert second.commit()
    second.close()
    assert [m.value() for m in consume_all(dst)] == [b"marker", b"done"]


@pytest.mark.kafka
def test_a_restarted_worker_fences_its_zombie(new_topic: NewTopic) -> None:
    src, dst = new_topic("fence.in", 1), new_topic("fence.out", 1)
    produce(src, [b"x"])
    group = f"fence-{uuid.uuid4().hex[:8]}"
    zombie = bus.open_link(src, dst, group=group, worker="0")
    while not zombie.poll(10, 5):
        pass
    zombie.send([(None, b"from the zombie")])
    successor = bus.open_link(src, dst, group=group, worker="0")  # same worker id: takes over
    with pytest.raises(FencedError, match="another worker took over"):
        zombie.commit()
    assert [m.value() for m in successor.poll(10, 10)] == [b"x"]
    successor.send([(None, b"from the successor")])
    assert successor.commit()
    successor.close()
    assert [m.value() for m in consume_all(dst)] == [b"from the successor"]


class Worker:
    """A crash_worker.py process; its stdout lines arrive on a queue, so waiting for them can time out."""

    def __init__(self, src: str, dst: str, group: str, worker: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), src, dst, group, worker, "--batch", "50", "--delay", "0.05"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.put(line)
        self.lines.put("")  # end of output

    def wait_steps(self, steps: int) -> None:
        for _ in range(steps):
            line = self.lines.get(timeout=60)
            assert line.startswith("step"), f"worker ended before {steps} batches: {line!r}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def stop(self) -> dict[str, int]:
        """SIGTERM: the worker commits its batch and prints its stats."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0
        lines = []
        while line := self.lines.get(timeout=10):
            lines.append(line)
        return json.loads(lines[-1])


def read_until(url: str, count: int, timeout_s: float = 120) -> None:
    """Wait until ``url`` holds ``count`` committed messages."""
    source = bus.open_source(url, group=f"wait-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + timeout_s
    seen = 0
    try:
        while seen < count and time.monotonic() < deadline:
            seen += len(source.poll(10_000, 1))
    finally:
        source.close()
    assert seen >= count, f"only {seen} of {count} messages arrived within {timeout_s:g} s"


@pytest.mark.kafka
@pytest.mark.slow
def test_kill_9_of_workers_mid_run_loses_nothing_and_duplicates_nothing(new_topic: NewTopic) -> None:
    """Two workers share a 2-partition topic; each is killed with SIGKILL at random points (after a random number of
    batches, plus 0-80 ms, so kills land while sending, between sending and committing — where a worker without
    transactions would duplicate — or while committing or polling) and restarted; 3 kills in all."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    src, dst = new_topic("crash.in", 2), new_topic("crash.out", 2)
    events = real_events(600)
    produce(src, [encode_raw_event(e) for e in events])
    group = f"crash-{uuid.uuid4().hex[:8]}"
    workers = {w: Worker(src, dst, group, w) for w in ("0", "1")}
    for victim in ["0", "1", "0"]:
        workers[victim].wait_steps(rng.randint(1, 4))
        time.sleep(rng.uniform(0, 0.08))
        workers[victim].kill()
        workers[victim] = Worker(src, dst, group, victim)
    read_until(dst, len(events))
    finals = [w.stop() for w in workers.values()]
    assert sum(f["consumed"] for f in finals) > 0, "the workers were done before the last kill: nothing was tested"
    assert lost_and_duplicated(events, dst) == (0, 0), f"seed {seed}"
