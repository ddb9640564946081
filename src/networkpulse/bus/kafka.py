"""``kafka://HOST:PORT/TOPIC``: confluent-kafka sources, sinks and exactly-once links.

Kafka does the distributed work: partitions spread a topic over workers, a consumer group shares them out and
moves them to the survivors when a worker dies, and a transaction commits a worker's output together with its
input offsets (KIP-447), so a crash loses and duplicates nothing. Each worker has a stable identity ``worker``:
it is the consumer's ``group.instance.id`` (static membership: a restarted worker gets its partitions back without
a rebalance) and part of the producer's ``transactional.id`` (``<group>.<worker>``: the restarted worker's
``init_transactions`` aborts the open transaction of the one it replaces and fences it if it still runs).

Batching is librdkafka's: ``consume`` returns up to thousands of messages in one call, ``produce`` only queues.
Keys are partitioned with murmur2, as Java clients do, so every client puts a key on the same partition.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from networkpulse.bus.base import (
    DLQ_SUFFIX,
    BusError,
    BusUrl,
    DecodeError,
    FencedError,
    Headers,
    Message,
    Records,
    dead_letter_headers,
)
from networkpulse.errors import ConfigError, MissingExtraError

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as exc:  # the [kafka] extra brings it
    raise MissingExtraError("confluent-kafka", "kafka") from exc

Config = Mapping[str, Any]
T = TypeVar("T")

START_HINT = "is a broker running there? Start one with: bash scripts/kafka.sh start"
# A transaction open longer than this is aborted by the broker; it bounds how long a crashed worker's open
# transaction holds back read_committed consumers when no replacement comes to abort it sooner.
TRANSACTION_TIMEOUT_MS = 30_000
# Static members keep their partitions this long after a crash, waiting for the same worker to come back.
SESSION_TIMEOUT_MS = 10_000


# Upper bound for one message of a link (the window merger's state snapshot is the big one).
MAX_MESSAGE_BYTES = 64 << 20

_LOG = logging.getLogger(__name__)


def _servers(url: BusUrl) -> dict[str, Any]:
    # librdkafka's own log (e.g. "coordinator load in progress: retrying" while a broker starts) goes to Python
    # logging instead of stderr.
    return {"bootstrap.servers": url.servers, "client.id": "networkpulse", "logger": _LOG}


def _admin(url: BusUrl) -> Any:
    return AdminClient(_servers(url))


def check_topics(url: BusUrl, topics: Sequence[str], timeout_s: float = 10.0) -> dict[str, int]:
    """Partition counts of ``topics``; :class:`BusError` when no broker answers or one of them does not exist."""
    try:
        metadata = _admin(url).list_topics(timeout=timeout_s)
    except ck.KafkaException as exc:
        raise BusError(f"{url}: no broker answered within {timeout_s:g} s ({exc.args[0]}); {START_HINT}") from None
    missing = [t for t in topics if t not in metadata.topics]
    if missing:
        raise BusError(
            f"{url}: topic {', '.join(missing)} does not exist on {url.servers}; create it with "
            "networkpulse.bus.create_topics (the broker does not create topics on first use)"
        )
    return {t: len(metadata.topics[t].partitions) for t in topics}


def create_topics(url: str, partitions: int, timeout_s: float = 30.0, config: Mapping[str, str] | None = None) -> None:
    """Create the topic of ``url`` with ``partitions`` partitions (and topic ``config``, e.g. compaction) and its
    one-partition ``.dlq`` topic.

    Idempotent: existing topics are left as they are (their partition count included).
    """
    bus = BusUrl.parse(url)
    if bus.scheme != "kafka":
        raise ConfigError("create_topics URL", "kafka://HOST:PORT/TOPIC", url, "memory:// topics need no creation")
    if partitions < 1:
        raise ConfigError("partitions", "1 or more", partitions)
    _create(bus, [(bus.topic, partitions), (bus.topic + DLQ_SUFFIX, 1)], timeout_s, config)


def partition_count(url: str) -> int:
    """How many partitions the topic of ``url`` has; :class:`BusError` if it does not exist."""
    bus = BusUrl.parse(url)
    return check_topics(bus, [bus.topic])[bus.topic]


def message_count(url: str, timeout_s: float = 10.0) -> int:
    """Messages (and transaction markers) the topic of ``url`` holds, over every partition; 0 when it does not
    exist. O(partitions)."""
    bus = BusUrl.parse(url)
    consumer = ck.Consumer({**_servers(bus), "group.id": "networkpulse.count"})
    try:
        topic = consumer.list_topics(bus.topic, timeout=timeout_s).topics.get(bus.topic)
        if topic is None or topic.error is not None:
            return 0
        ends = [consumer.get_watermark_offsets(ck.TopicPartition(bus.topic, p), timeout=timeout_s)
                for p in topic.partitions]
    except ck.KafkaException as exc:
        _raise_for(url, "read the topic's offsets", exc)
    finally:
        consumer.close()
    return sum(high - low for low, high in ends)


def _create(url: BusUrl, topics: list[tuple[str, int]], timeout_s: float,
            config: Mapping[str, str] | None = None) -> None:
    """Create ``(name, partitions)`` topics that do not exist yet (``config`` applies to the first one)."""
    # Replication -1: the cluster's default.replication.factor (1 on the broker of scripts/kafka.sh, 3 on a cluster).
    wanted = [NewTopic(name, partitions, -1, config=dict(config or {}) if i == 0 else {})
              for i, (name, partitions) in enumerate(topics)]
    admin = _admin(url)  # held until the futures resolve: destroying it fails them
    futures = admin.create_topics(wanted, operation_timeout=timeout_s, request_timeout=timeout_s)
    for name, future in futures.items():
        try:
            future.result()
        except ck.KafkaException as exc:
            if exc.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
                raise BusError(
                    f"{url.with_topic(name)}: could not create the topic: {exc.args[0]}; {START_HINT}"
                ) from None
    # The controller has the topics now, but brokers learn of them a moment later: wait until the metadata a
    # client gets names them, so that opening one right after this call does not find it missing.
    deadline = time.monotonic() + timeout_s
    while not all(name in admin.list_topics(timeout=timeout_s).topics for name, _ in topics):
        if time.monotonic() > deadline:
            raise BusError(f"{url}: topics {[n for n, _ in topics]} created but not visible after {timeout_s:g} s")
        time.sleep(0.05)


def _raise_for(url: object, what: str, exc: ck.KafkaException) -> NoReturn:
    """Turn a client exception into the matching :class:`BusError`."""
    err = exc.args[0]
    if _fenced(err):
        raise FencedError(
            f"{url}: {what}: this worker's transactions were fenced ({err}): another worker took over its id, or the "
            "broker aborted its open transaction (e.g. across a broker restart). This one stops; restart it (a "
            "supervisor does) and give every concurrent worker of a stage its own worker id"
        ) from None
    raise BusError(f"{url}: {what} failed: {err}; {START_HINT}") from None


def _fenced(err: Any) -> bool:
    """The producer can never commit again: its epoch is stale (a newer instance, or the coordinator bumped it
    when it aborted a timed-out transaction). Only a new producer — a restarted worker — goes on."""
    return bool(err.fatal()) or err.code() in (
        ck.KafkaError._FENCED, ck.KafkaError.PRODUCER_FENCED, ck.KafkaError.FENCED_INSTANCE_ID,
        ck.KafkaError.INVALID_PRODUCER_EPOCH)


def _retry(call: Callable[[], T], attempts: int = 5) -> T:
    """``call()``, tried again (up to ``attempts`` in all) while the client calls its error retriable."""
    for _ in range(attempts - 1):
        try:
            return call()
        except ck.KafkaException as exc:
            if not exc.args[0].retriable():
                raise
    return call()


class _Consumer:
    """A group member reading one topic, read_committed, starting at the earliest offset of a new group."""

    def __init__(self, url: BusUrl, group: str, extra: Config) -> None:
        check_topics(url, [url.topic])
        self.url = str(url)
        self.topic = url.topic
        self.consumer = ck.Consumer(
            {
                **_servers(url),
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Never read what an aborted (or still open) transaction wrote.
                "isolation.level": "read_committed",
                "session.timeout.ms": SESSION_TIMEOUT_MS,
                **extra,
            }
        )

    def _messages(self, max_messages: int, timeout_s: float) -> list[Any]:
        try:
            # consume(n, timeout) would wait for all n messages; wait for the first only, then take what the
            # client has already fetched (it prefetches ahead), so a batch is never slower than its first message.
            first = self.consumer.poll(timeout_s)
            if first is None:
                return []
            batch = [first, *self.consumer.consume(max_messages - 1, 0)] if max_messages > 1 else [first]
        except ck.KafkaException as exc:
            _raise_for(self.url, "consume", exc)
        if all(message.error() is None for message in batch):
            return batch
        for message in batch:
            err = message.error()
            if err is not None and (
                err.fatal() or err.code() in (ck.KafkaError.UNKNOWN_TOPIC_OR_PART, ck.KafkaError._UNKNOWN_TOPIC)
            ):
                _raise_for(self.url, "consume", ck.KafkaException(err))
        # Other errors are informational (a broker restarting, a partition moving): librdkafka retries them.
        return [message for message in batch if message.error() is None]


    def lag(self) -> dict[tuple[str, int], int]:
        """See :meth:`networkpulse.bus.base.Link.lag`. O(assigned partitions), no broker round trip: the ends come
        with every fetch response (``get_watermark_offsets(cached=True)``)."""
        out: dict[tuple[str, int], int] = {}
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                _, end = self.consumer.get_watermark_offsets(tp, cached=True)
                if end >= 0 and tp.offset >= 0:
                    out[(tp.topic, tp.partition)] = max(0, end - tp.offset)
        except ck.KafkaException:
            pass  # no assignment or client closing: nothing to report now
        return out


class KafkaSource(_Consumer):
    """:class:`~networkpulse.bus.base.Source`: a consumer-group member of ``kafka://…/TOPIC``, at least once."""

    def __init__(self, url: BusUrl, group: str, config: Config | None = None) -> None:
        super().__init__(url, group, config or {})
        self.consumer.subscribe([self.topic])

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]:
        return self._messages(max_messages, timeout_s)

    def commit(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except ck.KafkaException as exc:
            if exc.args[0].code() != ck.KafkaError._NO_OFFSET:  # nothing consumed since the last commit
                _raise_for(self.url, "commit", exc)

    def close(self) -> None:
        self.consumer.close()


class KafkaSink:
    """:class:`~networkpulse.bus.base.Sink`: an idempotent producer (no duplicates from its own retries).

    With ``partitions`` it writes only to those partitions of the topic (a key picks one of them by CRC-32, no key
    the first): a firehose producer that owns its partitions makes each of them one time-ordered stream.
    """

    def __init__(self, url: BusUrl, config: Config | None = None, partitions: Sequence[int] | None = None) -> None:
        count = check_topics(url, [url.topic])[url.topic]
        if partitions is not None and (not partitions or min(partitions) < 0 or max(partitions) >= count):
            raise ConfigError(f"partitions of {url}", f"a non-empty subset of 0..{count - 1}", list(partitions))
        self.owned = list(partitions) if partitions is not None else None
        self.url = str(url)
        self.topic = url.topic
        self.failures: list[str] = []
        self.producer = ck.Producer(
            {
                **_servers(url),
                "enable.idempotence": True,
                "linger.ms": 5,
                "partitioner": "murmur2_random",
                # Delivery reports cost a Python call per message; only failures need one.
                "delivery.report.only.error": True,
                "on_delivery": self._failed,
                **(config or {}),
            }
        )

    def _failed(self, err: Any, message: Any) -> None:
        self.failures.append(f"{err} (partition {message.partition()})")

    def send(self, records: Records) -> int:
        if self.owned is not None:
            sent = _produce_owned(self.producer, self.topic, records, self.owned)
        else:
            sent = _produce(self.producer, self.topic, records)
        # Serve delivery reports, so failures surface while sending, not only at flush.
        self.producer.poll(0)
        return sent

    def flush(self, timeout_s: float = 60.0) -> None:
        left = self.producer.flush(timeout_s)
        if left or self.failures:
            raise BusError(
                f"{self.url}: {left} messages still unsent after {timeout_s:g} s, {len(self.failures)} failed "
                f"({'; '.join(self.failures[:3]) or 'no error reported'}); {START_HINT}"
            )

    def close(self) -> None:
        self.flush()


def _produce(producer: Any, topic: str, records: Records, headers: Headers | None = None) -> int:
    """Queue every ``(key, value)``; O(n) with one C call per message, the whole cost on the hot path."""
    produce = producer.produce
    extra = {"headers": list(headers)} if headers else {}
    sent = 0
    for key, value in records:
        while True:
            try:
                produce(topic, value, key, **extra)
                break
            except BufferError:  # the local queue is full: let librdkafka send some, then retry
                producer.poll(0.05)
        sent += 1
    return sent


def _produce_owned(producer: Any, topic: str, records: Records, owned: Sequence[int]) -> int:
    """:func:`_produce` to ``owned`` partitions only, a key's partition chosen by CRC-32 of the key."""
    produce, n, sent = producer.produce, len(owned), 0
    for key, value in records:
        partition = owned[zlib.crc32(key) % n] if key else owned[0]
        while True:
            try:
                produce(topic, value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
    return sent


def read_last(url: str, timeout_s: float = 30.0) -> bytes | None:
    """The value of the last committed message of partition 0 of ``url``'s topic (a state changelog), or None
    when it holds none. Reads backwards in growing steps from the end, read_committed. O(messages read)."""
    bus = BusUrl.parse(url)
    check_topics(bus, [bus.topic])
    consumer = ck.Consumer({**_servers(bus), "group.id": "networkpulse.read-last", "enable.auto.commit": False,
                            "isolation.level": "read_committed", "enable.partition.eof": True})
    try:
        low, high = consumer.get_watermark_offsets(ck.TopicPartition(bus.topic, 0), timeout=timeout_s)
        back = 8
        while True:
            start = max(low, high - back)
            consumer.assign([ck.TopicPartition(bus.topic, 0, start)])
            last: bytes | None = None
            deadline = time.monotonic() + timeout_s
            while True:
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    last = message.value()
                    if message.offset() >= high - 1:
                        break
                elif message is not None and message.error().code() == ck.KafkaError._PARTITION_EOF:
                    break
                positions = consumer.position([ck.TopicPartition(bus.topic, 0)])
                if positions[0].offset >= high or time.monotonic() > deadline:
                    break
            if last is not None or start == low:
                return last
            back *= 8
    except ck.KafkaException as exc:
        _raise_for(url, "read the state topic", exc)
    finally:
        consumer.close()


class KafkaReader(_Consumer):
    """Reads every partition of a topic from positions the caller keeps (e.g. in its database, committed with
    its output): no group rebalancing, exactly once when the caller stores positions atomically with results.
    :meth:`report` also commits them to ``group`` asynchronously, so consumer lag shows in monitoring."""

    def __init__(self, url: BusUrl, group: str, positions: Mapping[int, int], config: Config | None = None) -> None:
        super().__init__(url, group, {"fetch.max.bytes": MAX_MESSAGE_BYTES, **(config or {})})
        count = check_topics(url, [url.topic])[url.topic]
        self.url = str(url)
        self.consumer.assign([ck.TopicPartition(url.topic, p, positions.get(p, ck.OFFSET_BEGINNING))
                              for p in range(count)])

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]:
        return self._messages(max_messages, timeout_s)

    def report(self, positions: Mapping[int, int]) -> None:
        with contextlib.suppress(ck.KafkaException):
            self.consumer.commit(offsets=[ck.TopicPartition(self.topic, p, o) for p, o in positions.items()],
                                 asynchronous=True)

    def close(self) -> None:
        self.consumer.close()


class KafkaLink(_Consumer):
    """:class:`~networkpulse.bus.base.Link`: consume ``source``, produce ``sink``, exactly once by transactions.

    Each :meth:`commit` is one transaction holding the messages sent since the last one and the consumer's
    positions (the offsets after the messages polled). An aborted transaction rewinds the consumer to the group's
    committed offsets, which are where that transaction started.
    """

    def __init__(
        self, source: BusUrl, sink: BusUrl, group: str, worker: str, config: Config | None = None, timeout_s: float = 30
    ) -> None:
        if source.servers != sink.servers:
            raise ConfigError(
                "exactly-once link",
                "source and sink on the same Kafka cluster (a transaction spans one cluster)",
                f"{source} -> {sink}",
            )
        check_topics(sink, [sink.topic])
        super().__init__(source, group, {"group.instance.id": worker, **(config or {})})
        _create(source, [(source.topic + DLQ_SUFFIX, 1)], timeout_s)  # idempotent
        self.url = f"{source} -> {sink}"
        self.sink = sink.topic
        self.timeout_s = timeout_s
        self.polled = False  # since the last commit
        self.open = False
        self.producer = ck.Producer(
            {
                **_servers(sink),
                "transactional.id": f"{group}.{worker}",
                "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                # A merger's state snapshot can pass Kafka's 1 MB default; the topic must allow it too.
                "message.max.bytes": MAX_MESSAGE_BYTES,
                "linger.ms": 5,
                "partitioner": "murmur2_random",
            }
        )
        try:
            # Before subscribing: aborts the open transaction of the worker we replace, so the offsets we are
            # about to read from the group are the committed ones.
            _retry(lambda: self.producer.init_transactions(timeout_s))
        except ck.KafkaException as exc:
            _raise_for(self.url, "init_transactions", exc)
        self.consumer.subscribe([self.topic])

    def poll(self, max_messages: int, timeout_s: float) -> Sequence[Message]:
        batch = self._messages(max_messages, timeout_s)
        self.polled = self.polled or bool(batch)
        return batch

    def _begin(self) -> None:
        if not self.open:
            try:
                self.producer.begin_transaction()
            except ck.KafkaException as exc:
                _raise_for(self.url, "begin_transaction", exc)
            self.open = True

    def send(self, records: Records, topic: str | None = None) -> int:
        """Add ``records`` to the open transaction, to the sink topic or to ``topic`` (same cluster)."""
        self._begin()
        return _produce(self.producer, topic or self.sink, records)

    def dead_letter(self, message: Message, error: DecodeError) -> None:
        self._begin()
        headers = dead_letter_headers(message, error)
        _produce(self.producer, self.topic + DLQ_SUFFIX, [(message.key(), message.value() or b"")], headers)

    def commit(self) -> bool:
        if not self.polled and not self.open:
            return True
        self._begin()
        # position() is the offset after the last message handed to us, per partition; one C call instead of
        # tracking offsets message by message. Partitions not read yet have none (negative) and are left out.
        positions = self.consumer.position(self.consumer.assignment())
        offsets = [tp for tp in positions if tp.offset >= 0]
        try:
            metadata = self.consumer.consumer_group_metadata()
            _retry(lambda: self.producer.send_offsets_to_transaction(offsets, metadata, self.timeout_s))
            _retry(lambda: self.producer.commit_transaction(self.timeout_s))
        except ck.KafkaException as exc:
            # A fenced producer "requires abort" too, but no abort helps it: stop (FencedError) instead of
            # aborting and polling on with a producer that can never commit.
            if _fenced(exc.args[0]) or not exc.args[0].txn_requires_abort():
                _raise_for(self.url, "commit_transaction", exc)
            self._abort()
            return False
        self.open = self.polled = False
        return True

    def _abort(self) -> None:
        """Abort the open transaction and rewind every partition to the group's committed offset (the start, as
        ``auto.offset.reset=earliest`` does, for one never committed)."""
        try:
            self.producer.abort_transaction(self.timeout_s)
            committed = self.consumer.committed(self.consumer.assignment(), self.timeout_s)
        except ck.KafkaException as exc:
            _raise_for(self.url, "abort", exc)
        self.open = self.polled = False
        for tp in committed:
            if tp.offset < 0:
                tp.offset = ck.OFFSET_BEGINNING
            # A partition no longer ours after a rebalance needs no rewind: its new owner starts from the commit.
            with contextlib.suppress(ck.KafkaException):
                self.consumer.seek(tp)

    def close(self) -> None:
        """Abort what is not committed and leave; a static member's partitions wait for it until the session ends."""
        if self.open:
            self._abort()
        self.consumer.close()
        self.producer.flush(self.timeout_s)
