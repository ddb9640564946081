"""``memory://TOPIC``: in-process topics with consumer-group positions and atomic commits.

A topic is one partition (an append-only list) shared by everything in the process that names it; each consumer
group has a committed position, and messages every group has committed are dropped. It gives the embedded mode and
the tests the same semantics as Kafka — a :class:`~networkpulse.bus.base.Link` commit appends its output and moves
its group in one step, an uncommitted batch is read again — without a broker. One member per group: a topic has a
single partition, so a second member of the same group would read the same messages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from networkpulse.bus.base import DLQ_SUFFIX, BusUrl, DecodeError, Headers, Message, Records, dead_letter_headers

# One lock for every memory topic, so a commit that appends to two topics and moves a group is one atomic step.
_LOCK = threading.Lock()
_ARRIVED = threading.Condition(_LOCK)


@dataclass(frozen=True, slots=True)
class MemoryMessage:
    """A stored message; its accessors match confluent_kafka.Message."""

    _value: bytes
    _key: bytes | None
    _headers: tuple[tuple[str, bytes], ...]
    _topic: str
    _offset: int

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[tuple[str, bytes]] | None:
        return list(self._headers) or None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


@dataclass(slots=True)
class _Topic:
    name: str
    base: int = 0  # offset of messages[0]; the ones before were committed by every group and dropped
    messages: list[MemoryMessage] = field(default_factory=list)
    committed: dict[str, int] = field(default_factory=dict)

    def append(self, value: bytes, key: bytes | None, headers: Headers | None) -> None:
        offset = self.base + len(self.messages)
        self.messages.append(MemoryMessage(value, key, tuple(headers or ()), self.name, offset))

    def read(self, position: int, max_messages: int) -> list[MemoryMessage]:
        start = position - self.base
        return self.messages[start : start + max_messages]

    def end(self) -> int:
        return self.base + len(self.messages)

    def commit(self, group: str, position: int) -> None:
        self.committed[group] = position
        low = min(self.committed.values())
        if low > self.base:
            del self.messages[: low - self.base]
            self.base = low


_TOPICS: dict[str, _Topic] = {}


def _topic(name: str) -> _Topic:
    """The topic ``name``, created empty on first use (callers hold ``_LOCK``)."""
    topic = _TOPICS.get(name)
    if topic is None:
        topic = _TOPICS[name] = _Topic(name)
    return topic


class _Reader:
    """A group member's read position; ``poll`` blocks up to ``timeout_s`` for the first message."""

    def __init__(self, url: BusUrl, group: str) -> None:
        self.url = str(url)
        self.topic_name = url.topic
        self.group = group
        with _LOCK:
            topic = _topic(url.topic)
            self.position = topic.committed.setdefault(group, topic.base)

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]:
        with _ARRIVED:
            topic = _topic(self.topic_name)
            _ARRIVED.wait_for(lambda: topic.end() > self.position, timeout=timeout_s)
            batch = topic.read(self.position, max_messages)
        self.position += len(batch)
        return batch


class MemorySource(_Reader):
    """:class:`~networkpulse.bus.base.Source` over ``memory://TOPIC``."""

    def commit(self) -> None:
        with _LOCK:
            _topic(self.topic_name).commit(self.group, self.position)

    def close(self) -> None:
        """Nothing to release: the topic outlives its readers, uncommitted progress is forgotten."""


class MemorySink:
    """:class:`~networkpulse.bus.base.Sink` over ``memory://TOPIC``: a send is visible at once."""

    def __init__(self, url: BusUrl) -> None:
        self.url = str(url)
        self.topic_name = url.topic

    def send(self, records: Records) -> int:
        with _ARRIVED:
            topic = _topic(self.topic_name)
            before = topic.end()
            for key, value in records:
                topic.append(value, key, None)
            _ARRIVED.notify_all()
            return topic.end() - before

    def flush(self) -> None:
        """Sends are stored synchronously; nothing is pending."""

    def close(self) -> None:
        """Nothing to release."""


class MemoryLink(_Reader):
    """:class:`~networkpulse.bus.base.Link` from one memory topic to another: output and position commit together."""

    def __init__(self, source: BusUrl, sink: BusUrl, group: str) -> None:
        super().__init__(source, group)
        self.sink_name = sink.topic
        self.pending: list[tuple[str, bytes, bytes | None, Headers | None]] = []

    def send(self, records: Records, topic: str | None = None) -> int:
        before = len(self.pending)
        self.pending.extend((topic or self.sink_name, value, key, None) for key, value in records)
        return len(self.pending) - before

    def dead_letter(self, message: Message, error: DecodeError) -> None:
        self.pending.append(
            (self.topic_name + DLQ_SUFFIX, message.value() or b"", message.key(), dead_letter_headers(message, error))
        )

    def commit(self) -> bool:
        with _ARRIVED:
            for name, value, key, headers in self.pending:
                _topic(name).append(value, key, headers)
            _topic(self.topic_name).commit(self.group, self.position)
            _ARRIVED.notify_all()
        self.pending.clear()
        return True

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages after this link's position in its source (a memory topic has one partition, 0)."""
        return {(self.topic_name, 0): max(0, _topic(self.topic_name).end() - self.position)}

    def close(self) -> None:
        """Drops what was not committed: like an aborted transaction, the next member reads it again."""
        self.pending.clear()
