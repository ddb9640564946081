"""The transport seam without a broker: URLs, memory:// semantics (groups, atomic commits, DLQ), missing extras."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import uuid

import pytest

from networkpulse import bus
from networkpulse.bus import BusUrl, DecodeError
from networkpulse.errors import ConfigError, MissingExtraError


def topic() -> str:
    return f"memory://t{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("memory://raw", BusUrl("memory", "", "raw")),
        ("kafka://127.0.0.1:19092/raw.events", BusUrl("kafka", "127.0.0.1:19092", "raw.events")),
        ("kafka://a:1,b.example:9092/x_y-z", BusUrl("kafka", "a:1,b.example:9092", "x_y-z")),
    ],
)
def test_urls_parse(url: str, parsed: BusUrl) -> None:
    assert BusUrl.parse(url) == parsed
    assert str(parsed) == url


@pytest.mark.parametrize(
    "url",
    ["raw", "redis://h:1/raw", "kafka://127.0.0.1/raw", "kafka:///raw", "kafka://h:1/", "memory://a b", "memory://"],
)
def test_bad_urls_say_what_is_expected(url: str) -> None:
    with pytest.raises(ConfigError, match=r"expected .*kafka://HOST:PORT/TOPIC"):
        BusUrl.parse(url)


def test_mixed_transports_are_refused() -> None:
    with pytest.raises(ConfigError, match="same transport"):
        bus.open_link("memory://a", "kafka://h:1/b", group="g", worker="0")


def _values(url: str, group: str = "check") -> list[bytes]:
    source = bus.open_source(url, group=group)
    return [m.value() for m in source.poll(1_000_000, 0)]


def _poison_aware(value: bytes) -> bytes:
    if value.startswith(b"poison"):
        raise DecodeError("bad_magic", "not ours")
    return value


def test_relay_delivers_every_message_once_and_dead_letters_poison() -> None:
    src, dst = topic(), topic()
    sink = bus.open_sink(src)
    assert sink.send((b"k%d" % i, b"poison%d" % i if i % 10 == 3 else b"m%d" % i) for i in range(100)) == 100
    link = bus.open_link(src, dst, group="stage", worker="0")
    stats = bus.relay(link, _poison_aware, lambda records: ((None, r.upper()) for r in records), max_batch=7, idle_s=0)
    assert (stats.consumed, stats.produced, stats.dead_letters, stats.aborts) == (100, 90, 10, 0)
    assert stats.commits == 15  # ceil(100 / 7)
    assert _values(dst) == [b"M%d" % i for i in range(100) if i % 10 != 3]
    dead = bus.open_source(src + ".dlq", group="check").poll(100, 0)
    assert [m.value() for m in dead] == [b"poison%d" % i for i in range(3, 100, 10)]
    headers = dict(dead[0].headers() or [])
    assert headers["pulse.dlq.reason"] == b"bad_magic"
    assert b"not ours" in headers["pulse.dlq.error"]
    assert headers["pulse.dlq.source"] == f"{src[len('memory://') :]}:0:3".encode()
    assert dead[0].key() == b"k3"


def test_uncommitted_work_is_invisible_and_read_again() -> None:
    src, dst = topic(), topic()
    sink = bus.open_sink(src)
    sink.send((None, b"%d" % i) for i in range(5))
    first = bus.open_link(src, dst, group="stage", worker="0")
    assert [m.value() for m in first.poll(3, 0)] == [b"0", b"1", b"2"]
    first.send([(None, b"out")])
    first.close()  # a crash before commit
    assert _values(dst) == []
    second = bus.open_link(src, dst, group="stage", worker="0")
    assert [m.value() for m in second.poll(3, 0)] == [b"0", b"1", b"2"]
    assert second.send([(None, b"out")]) == 1
    assert second.commit()
    assert [m.value() for m in bus.open_link(src, dst, group="stage", worker="0").poll(10, 0)] == [b"3", b"4"]
    assert _values(dst) == [b"out"]


def test_source_groups_commit_independently_and_committed_messages_are_dropped() -> None:
    url = topic()
    sink = bus.open_sink(url)
    sink.send((None, b"%d" % i) for i in range(4))
    a, b = bus.open_source(url, group="a"), bus.open_source(url, group="b")
    assert len(a.poll(10, 0)) == 4
    a.commit()
    assert [m.offset() for m in b.poll(2, 0)] == [0, 1]
    b.commit()
    from networkpulse.bus import memory

    assert memory._TOPICS[url[len("memory://") :]].base == 2  # both groups are past offsets 0 and 1
    assert [m.value() for m in bus.open_source(url, group="b").poll(10, 0)] == [b"2", b"3"]
    assert bus.open_source(url, group="a").poll(10, 0) == []


def test_poll_waits_for_a_message_from_another_thread() -> None:
    url = topic()
    source = bus.open_source(url, group="g")
    threading.Timer(0.05, lambda: bus.open_sink(url).send([(None, b"late")])).start()
    started = time.monotonic()
    assert [m.value() for m in source.poll(10, 5)] == [b"late"]
    assert time.monotonic() - started < 4


def test_relay_stops_on_event() -> None:
    stop = threading.Event()
    stop.set()
    stats = bus.relay(bus.open_link(topic(), topic(), group="g", worker="0"), bytes, lambda r: [], stop=stop)
    assert stats.commits == 0


@pytest.mark.parametrize(
    ("module", "blocked"), [("networkpulse.bus.kafka", "confluent_kafka"), ("networkpulse.bus.avro", "fastavro")]
)
def test_missing_extra_names_the_install_command(module: str, blocked: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # makes `import blocked` raise ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingExtraError) as caught:
        importlib.import_module(module)
    assert ".venv/bin/pip install 'networkpulse[kafka]'" in str(caught.value)


def test_kafka_url_without_the_extra_fails_with_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    monkeypatch.delitem(sys.modules, "networkpulse.bus.kafka", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'networkpulse\[kafka\]'"):
        bus.open_sink("kafka://127.0.0.1:1/raw")
