"""Transports between stages, chosen by URL: ``memory://TOPIC`` (in-process) or ``kafka://HOST:PORT/TOPIC``.

:func:`open_source`, :func:`open_sink` and :func:`open_link` return the :class:`Source`, :class:`Sink` and
:class:`Link` protocols; :func:`relay` is the exactly-once consume-transform-produce loop over a link. Kafka needs
the ``[kafka]`` extra (confluent-kafka); it is imported only when a ``kafka://`` URL is opened. Avro encoding is in
:mod:`networkpulse.bus.avro` (also ``[kafka]``: fastavro).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from networkpulse.bus.base import (
    DLQ_SUFFIX,
    BusError,
    BusUrl,
    DecodeError,
    FencedError,
    Link,
    Message,
    Sink,
    Source,
)
from networkpulse.bus.memory import MemoryLink, MemorySink, MemorySource
from networkpulse.bus.relay import RelayStats, Step, relay
from networkpulse.errors import ConfigError

__all__ = [
    "DLQ_SUFFIX",
    "BusError",
    "BusUrl",
    "DecodeError",
    "FencedError",
    "Link",
    "Message",
    "RelayStats",
    "Sink",
    "Source",
    "create_topics",
    "open_link",
    "open_sink",
    "open_source",
    "partition_count",
    "relay",
    "relay_between",
]


def open_source(url: str, *, group: str, config: Mapping[str, Any] | None = None) -> Source:
    """A member of consumer group ``group`` reading ``url``; ``config`` adds librdkafka settings (Kafka only)."""
    bus = BusUrl.parse(url, "source URL")
    if bus.scheme == "memory":
        return MemorySource(bus, group)
    from networkpulse.bus.kafka import KafkaSource

    return KafkaSource(bus, group, config)


def open_sink(url: str, *, config: Mapping[str, Any] | None = None, partitions: Sequence[int] | None = None) -> Sink:
    """A writer to ``url``; ``config`` adds librdkafka settings; ``partitions``: write only to these (Kafka only)."""
    bus = BusUrl.parse(url, "sink URL")
    if bus.scheme == "memory":
        return MemorySink(bus)
    from networkpulse.bus.kafka import KafkaSink

    return KafkaSink(bus, config, partitions)


def open_link(source: str, sink: str, *, group: str, worker: str, config: Mapping[str, Any] | None = None) -> Link:
    """An exactly-once link from ``source`` to ``sink`` for worker ``worker`` of stage ``group``.

    ``worker`` must be stable across restarts and unique within the group (e.g. ``0``, ``1``…): Kafka uses it to
    hand a restarted worker its partitions back and to fence the crashed instance it replaces. Both URLs use the
    same transport (and, for Kafka, the same cluster).
    """
    src, dst = BusUrl.parse(source, "source URL"), BusUrl.parse(sink, "sink URL")
    if src.scheme != dst.scheme:
        raise ConfigError("link", "source and sink on the same transport", f"{source} -> {sink}")
    if src.scheme == "memory":
        return MemoryLink(src, dst, group)
    from networkpulse.bus.kafka import KafkaLink

    return KafkaLink(src, dst, group, worker, config)


def relay_between(
    source: str, sink: str, decode: Callable[[bytes], Any], step: Step[Any], *, group: str, worker: str,
    on_ready: Callable[[], None] | None = None, **options: Any,
) -> RelayStats:
    """A stage worker's whole life: open the exactly-once link, call ``on_ready()`` (its predecessor fenced, its
    group joined), :func:`relay` until stopped (``options`` as :func:`relay` takes them), close the link."""
    link = open_link(source, sink, group=group, worker=worker)
    try:
        if on_ready is not None:
            on_ready()
        return relay(link, decode, step, **options)
    finally:
        link.close()


def partition_count(url: str) -> int:
    """Partitions of the topic of ``url`` (memory topics have one)."""
    if BusUrl.parse(url).scheme == "kafka":
        from networkpulse.bus.kafka import partition_count as count

        return count(url)
    return 1


def create_topics(url: str, partitions: int, config: Mapping[str, str] | None = None) -> None:
    """Create the topic of ``url`` (Kafka: ``partitions`` partitions and topic ``config``, plus its ``.dlq``);
    memory topics need none."""
    if BusUrl.parse(url).scheme == "kafka":
        from networkpulse.bus.kafka import create_topics as create

        create(url, partitions, config=config)
