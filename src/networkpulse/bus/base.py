"""The transport seam: what a stage reads from (:class:`Source`), writes to (:class:`Sink`), or both atomically
(:class:`Link`), and the URLs that pick a transport.

``memory://TOPIC`` is in-process (the embedded mode and tests); ``kafka://HOST:PORT[,HOST:PORT…]/TOPIC`` is a Kafka
cluster. Messages follow confluent-kafka's ``Message`` accessors (``value()``, ``key()``, …), so a Kafka message
reaches a stage without being copied into another object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from networkpulse.errors import ConfigError, PulseError

Headers = Sequence[tuple[str, bytes]]
# What stages send: (key, value) pairs, a batch at a time; the key picks the partition (None: any).
Records = Iterable[tuple[bytes | None, bytes]]

# Kafka's own rule for topic names (and a sane one for in-memory topics).
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SERVER = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
URL_FORMS = "memory://TOPIC or kafka://HOST:PORT/TOPIC"
DLQ_SUFFIX = ".dlq"


class BusError(PulseError):
    """A transport failed: the broker is unreachable, a topic is missing, a transaction could not commit."""


class FencedError(BusError):
    """Another worker took over this worker's ``transactional.id``; this one must stop (it is the zombie)."""


class DecodeError(PulseError):
    """A message's bytes are not a record of the expected schema; relays route it to the dead-letter topic.

    ``reason`` is a short stable code for dashboards and the DLQ header (``bad_magic``, ``unknown_schema``,
    ``wrong_schema``, ``truncated``, ``bad_body``, ``trailing_bytes``, ``bad_payload``); the message says more.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"undecodable message ({reason}): {detail}")

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, str]]:
        return (DecodeError, (self.reason, self.detail))


class Message(Protocol):
    """One message as consumed; confluent_kafka.Message satisfies it as is."""

    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...


class Source(Protocol):
    """Reads a topic as a member of a consumer group (at least once: :meth:`commit` records progress)."""

    url: str

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first one."""
        ...

    def commit(self) -> None:
        """Record that every message polled so far is done; a restarted member of the group resumes after it."""
        ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Writes to a topic; :meth:`flush` returns once everything sent is stored (or raises :class:`BusError`)."""

    url: str

    def send(self, records: Records) -> int:
        """Queue every ``(key, value)`` of ``records``; returns how many."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Link(Protocol):
    """A source and a sink whose progress commits atomically: exactly-once consume-transform-produce.

    Between two :meth:`commit` calls a worker polls, sends and dead-letters; :meth:`commit` makes the sent
    messages visible *and* advances the group past the polled ones in one transaction. If that transaction
    aborts, nothing of it is visible and the link rewinds to the first message polled since the last commit,
    so the same messages come again: a step that keeps state across batches must tolerate seeing them twice.
    """

    url: str

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]: ...

    def send(self, records: Records, topic: str | None = None) -> int:
        """Add every ``(key, value)`` of ``records`` to the open transaction (to the sink topic, or to ``topic`` of
        the same cluster, e.g. a state changelog); returns how many."""
        ...

    def dead_letter(self, message: Message, error: DecodeError) -> None:
        """Send ``message`` as is to the source topic's ``.dlq`` topic, its reason in the headers."""
        ...

    def commit(self) -> bool:
        """Commit the current transaction; False when it was aborted and the link rewound."""
        ...

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages between this member's position and the end of each partition assigned to it, as far as the
        client knows without a round trip (``(topic, partition) -> messages``; a partition whose end is not
        known yet is left out). Kafka counts transaction markers as messages: an idle exactly-once input shows
        1 per partition it got a commit on. For metrics (``networkpulse_consumer_lag_messages``)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BusUrl:
    """A parsed bus URL: ``scheme``, the Kafka ``servers`` (empty for memory) and the ``topic``."""

    scheme: Literal["memory", "kafka"]
    servers: str
    topic: str

    @classmethod
    def parse(cls, url: str, what: str = "bus URL") -> BusUrl:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("memory", "kafka"):
            raise ConfigError(what, URL_FORMS, url, "Start a local broker with: bash scripts/kafka.sh start")
        if scheme == "memory":
            servers, topic = "", rest
        else:
            servers, _, topic = rest.partition("/")
            if not servers or not all(_SERVER.match(s) for s in servers.split(",")):
                raise ConfigError(what, "kafka://HOST:PORT/TOPIC (HOST:PORT[,HOST:PORT…] of the brokers)", url)
        if not _TOPIC.match(topic):
            raise ConfigError(what, f"{URL_FORMS} with a topic of letters, digits, '.', '_' or '-'", url)
        return cls(scheme, servers, topic)

    def with_topic(self, topic: str) -> BusUrl:
        return BusUrl(self.scheme, self.servers, topic)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.servers}/{self.topic}" if self.servers else f"{self.scheme}://{self.topic}"


def dead_letter_headers(message: Message, error: DecodeError) -> list[tuple[str, bytes]]:
    """The headers of a dead letter: why, and where it came from (topic, partition, offset)."""
    return [
        *(message.headers() or ()),
        ("pulse.dlq.reason", error.reason.encode()),
        ("pulse.dlq.error", str(error).encode()),
        ("pulse.dlq.source", f"{message.topic()}:{message.partition()}:{message.offset()}".encode()),
    ]
