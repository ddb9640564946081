"""Service ``pulse firehose``: the 2016 "mock firehose" — replay raw GH Archive events onto a Kafka topic.

Events are published *raw* (before venturi, as in 2016), one Avro :data:`~networkpulse.bus.avro.RAW_EVENT`
message each, keyed by the actor's login (lower-cased, as GitHub compares logins), so one account's events stay in
one partition and a consumer group can split the topic. Which lines are events is decided by the events stage
(:func:`~networkpulse.events.iter_event_batches`): the same bad lines are skipped and reported (file:line) as by
``pulse run``; the published bytes are the original JSON lines, re-read in step with the decoder (a second gunzip
of the same file costs a fraction of the JSON-to-Avro encoding).

Scaling: ``producers`` processes, the sources split between them (each file read by one producer, in time
order); producer ``i`` of ``n`` writes only partitions ``i, i + n, …`` (:func:`owned_partitions`), so every
partition has one writer and holds one time-ordered stream — the *origins* whose watermarks the window merger
takes the minimum of. Hence ``--producers`` is at most the topic's partition count. A loop is a barrier: every
producer finishes loop ``k`` before loop ``k + 1`` starts, shifted in event time by the first loop's span rounded
up to an hour (a multiple of any sensible window slide), so the topic reads as one continuous history.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from networkpulse.errors import ConfigError, PulseError
from networkpulse.events import DEFAULT_MAX_LINE_BYTES, InputReport, Login, RawEvent, iter_event_batches
from networkpulse.events.gharchive import BOM
from networkpulse.events.sources import GZIP_MAGIC, STDIN, iter_chunks, open_source
from networkpulse.firehose import Pacer
from networkpulse.settings import Pace
from networkpulse.venturi.types import InteractionBatch

if TYPE_CHECKING:
    from networkpulse.metrics import ServiceMetrics

HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FirehoseConfig:
    """What to replay where: ``sources`` (from :func:`~networkpulse.events.expand_sources`), the topic URL ``to``,
    ``producers`` processes, the total ``pace``, ``loops`` (0 = forever) and the partitions of a new topic."""

    sources: tuple[str, ...]
    to: str
    producers: int = 1
    pace: Pace = field(default_factory=Pace)
    loops: int = 1
    partitions: int = 4
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


@dataclass(slots=True)
class FirehoseResult:
    """What a run published: events, loops completed, what was skipped (``report``), and how long it took."""

    produced: int = 0
    loops: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    report: InputReport = field(default_factory=InputReport)

    @property
    def events_per_s(self) -> float:
        return self.produced / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class _Share:
    """What one producer did in one loop: events sent, its report, and the event-time range it saw."""

    produced: int
    report: InputReport
    first_ms: int | None
    last_ms: int | None


def event_key(event: RawEvent) -> bytes | None:
    """The partition key of an event: its actor's login, lower-cased; else its repository; else None (any
    partition). O(1)."""
    actor: Any = event.actor
    if actor.__class__ is Login:
        actor = actor.login
    if actor:
        return actor.lower().encode()
    if event.repo is not None and event.repo.name:
        return event.repo.name.lower().encode()
    return None


class RawLines:
    """The original bytes of chosen lines of one source, read in a second pass in step with the decoder.

    :meth:`take` must be asked for increasing line numbers (a batch's ``lines``, batch after batch). Lines are
    framed exactly as the events stage frames them: split on ``\\n``, 1-based, a leading UTF-8 BOM dropped. Memory
    O(one decompressed chunk + the longest line); time O(bytes of the source).
    """

    def __init__(self, source: str) -> None:
        if source == STDIN:
            raise ConfigError("firehose source", "files (stdin cannot be read twice)", "-",
                              "save the stream to a file first, e.g. zcat hour.json.gz > hour.json")
        self.source = source
        self.stream = open_source(source)
        first = self.stream.read(2)
        self.chunks = iter_chunks(self.stream, first, first == GZIP_MAGIC)
        self.base = 1  # the line number of lines[0]
        self.lines: list[bytes] = []  # complete lines from `base` on
        self.pending = b""
        self.started = False

    def take(self, numbers: npt.NDArray[np.int64]) -> list[bytes]:
        out = []
        for n in numbers.tolist():
            while n - self.base >= len(self.lines):
                self._more(n)
            out.append(self.lines[n - self.base])
        if out:  # lines up to the last taken one are never asked for again
            last = int(numbers[-1])
            del self.lines[: last - self.base + 1]
            self.base = last + 1
        return out

    def _more(self, wanted: int) -> None:
        try:
            chunk = next(self.chunks, None)
        except Exception as exc:  # a gzip cut the decoder reported: no event it gave lies past it
            raise PulseError(f"{self.source}:{wanted}: the file changed while it was replayed ({exc})") from None
        if chunk is None:
            if not self.pending:
                raise PulseError(f"{self.source}:{wanted}: the file ended early; did it change while replayed?")
            self.lines.append(self.pending)
            self.pending = b""
            return
        data = self.pending + chunk
        if not self.started:
            # The BOM can be split over chunks (a plain file's first chunk is the 2 bytes sniffed for gzip).
            if len(data) < len(BOM) and BOM.startswith(data):
                self.pending = data
                return
            self.started = True
            data = data.removeprefix(BOM)
        parts = data.split(b"\n")
        self.pending = parts.pop()
        self.lines += parts

    def close(self) -> None:
        self.stream.close()


def _utc_text(ms: int) -> str:
    """GH Archive's UTC form of an epoch-ms time, as the Avro codec writes it back."""
    at = _EPOCH + timedelta(milliseconds=ms)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond:06d}Z" if at.microsecond else text + "Z"


def owned_partitions(producer: int, producers: int, partitions: int) -> list[int]:
    """The partitions producer ``producer`` of ``producers`` writes: every ``producers``-th from its index, so
    each partition has one writer and holds one time-ordered stream (an *origin* for the window merger)."""
    return list(range(producer, partitions, producers))


def produce_share(
    sources: Sequence[str], to: str, pace: Pace, shift_ms: int, max_line_bytes: int,
    stop: threading.Event | Any | None = None, partitions: Sequence[int] | None = None,
    on_sent: Callable[[int], object] | None = None,
) -> _Share:
    """Publish every event of ``sources`` to ``to`` (one producer's share of one loop), ``shift_ms`` later in event
    time, paced by ``pace``; stops after the current batch once ``stop`` is set.

    O(events): per event the typed decode of the events stage and the line's Avro encode
    (:func:`~networkpulse.bus.raw_event.encode_raw_line`, payload text as it is), plus a second gunzip of each file.
    """
    from networkpulse import bus
    from networkpulse.bus.raw_event import encode_raw_line

    report = InputReport()
    sink = bus.open_sink(to, partitions=partitions)
    pacer = Pacer(pace)
    produced = 0
    first_ms: int | None = None
    last_ms: int | None = None
    raw: RawLines | None = None
    try:
        for batch in iter_event_batches(sources, report, max_line_bytes=max_line_bytes):
            if stop is not None and stop.is_set():
                break
            if raw is None or raw.source != batch.source:
                if raw is not None:
                    raw.close()
                raw = RawLines(batch.source)
            lines = raw.take(batch.lines)
            lo, hi = int(batch.times_ms.min()), int(batch.times_ms.max())
            first_ms = lo if first_ms is None else min(first_ms, lo)
            last_ms = hi if last_ms is None else max(last_ms, hi)
            pacer.wait(InteractionBatch(event_times_ms=batch.times_ms))
            sent = sink.send(_records(batch.events, lines, batch.times_ms, shift_ms, encode_raw_line))
            produced += sent
            if on_sent is not None:
                on_sent(sent)
        sink.flush()
    finally:
        if raw is not None:
            raw.close()
    return _Share(produced, report, first_ms, last_ms)


def _records(
    events: list[RawEvent], lines: list[bytes], times_ms: npt.NDArray[np.int64], shift_ms: int, encode: Any
) -> Iterator[tuple[bytes | None, bytes]]:
    times = times_ms.tolist()
    for event, line, ms in zip(events, lines, times, strict=True):
        yield event_key(event), encode(line, _utc_text(ms + shift_ms) if shift_ms else None)


_STOP: Any = None


def _init_producer(stop: Any) -> None:
    """A producer process ignores Ctrl-C (the terminal sends it to the whole group): the parent sets ``stop``."""
    global _STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop


def _produce_in_child(sources: Sequence[str], to: str, pace: Pace, shift_ms: int, max_line_bytes: int,
                      partitions: Sequence[int]) -> _Share:
    return produce_share(sources, to, pace, shift_ms, max_line_bytes, _STOP, partitions)


def split_sources(sources: Sequence[str], producers: int) -> list[list[str]]:
    """Sources shared between ``producers`` by size (largest first to the least loaded), each share kept in the
    given (time) order. O(n log n); never more shares than sources."""
    sizes = {s: (os.path.getsize(s) if os.path.exists(s) else 0) for s in sources}
    shares: list[list[str]] = [[] for _ in range(min(producers, len(sources)))]
    load = [0] * len(shares)
    for source in sorted(sources, key=lambda s: -sizes[s]):
        i = load.index(min(load))
        shares[i].append(source)
        load[i] += sizes[source] or 1
    order = {s: i for i, s in enumerate(sources)}
    return [sorted(share, key=order.__getitem__) for share in shares]


def run_firehose(config: FirehoseConfig, stop: threading.Event | None = None,
                 metrics: ServiceMetrics | None = None) -> FirehoseResult:
    """Create the topic if missing and replay ``config.sources`` onto it ``config.loops`` times (0 = forever).

    ``stop`` (a :class:`threading.Event`, e.g. set by a signal handler) ends the run after the producers' current
    batches, everything sent flushed. One producer runs in this process; more run as processes, each with
    ``1 / producers`` of a ``--rate``. O(events × loops). ``metrics`` counts the events produced (per batch
    with one producer; as each producer process ends its share of a loop with more) and the skipped lines.
    """
    from networkpulse import bus

    if config.producers < 1:
        raise ConfigError("--producers", "1 or more", config.producers)
    bus.create_topics(config.to, config.partitions)
    shares = split_sources(config.sources, config.producers)
    n = max(len(shares), 1)
    partitions = bus.partition_count(config.to)
    if partitions < n:
        raise ConfigError("--producers", f"at most the {partitions} partitions of {config.to} (each partition has one "
                          "producer, so it stays in time order)", config.producers)
    owned = [owned_partitions(i, n, partitions) for i in range(n)]
    pace = Pace(rate=config.pace.rate / n) if config.pace.rate is not None else config.pace
    result = FirehoseResult()
    started = time.monotonic()
    span: int | None = None
    pool: ProcessPoolExecutor | None = None
    child_stop: Any = None
    if n > 1:
        ctx = multiprocessing.get_context("spawn")  # no inherited librdkafka threads or locks
        child_stop = ctx.Event()
        pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_producer, initargs=(child_stop,))
    watcher = _forward(stop, child_stop) if child_stop is not None else None
    try:
        loop = 0
        while not config.loops or loop < config.loops:
            shift = 0 if span is None else span * loop
            if pool is None:
                done = [produce_share(shares[0] if shares else [], config.to, pace, shift, config.max_line_bytes,
                                      stop, owned[0], metrics.events.inc if metrics else None)]
            else:
                futures = [pool.submit(_produce_in_child, share, config.to, pace, shift, config.max_line_bytes,
                           owned[i]) for i, share in enumerate(shares)]
                done = [f.result() for f in futures]
            for share in done:
                result.produced += share.produced
                if metrics is not None:
                    if pool is not None:  # producer processes: counted as each finishes its share of the loop
                        metrics.events.inc(share.produced)
                    if loop == 0:
                        metrics.count(0, 0, skipped=share.report.by_reason)
                if loop == 0:  # later loops read the same lines: report them once
                    result.report.merge(share.report)
            if stop is not None and stop.is_set():
                result.interrupted = True
                break
            result.loops += 1
            if span is None:
                firsts = [s.first_ms for s in done if s.first_ms is not None]
                lasts = [s.last_ms for s in done if s.last_ms is not None]
                if not firsts:
                    break  # nothing to replay
                span = -(-(max(lasts) - min(firsts) + 1) // HOUR_MS) * HOUR_MS
            loop += 1
    finally:
        if watcher is not None:
            watcher.set()
        if pool is not None:
            pool.shutdown()
    result.elapsed_s = time.monotonic() - started
    return result


def _forward(stop: threading.Event | None, child_stop: Any) -> threading.Event:
    """Relay ``stop`` to the producer processes' event until the returned event is set (at the end of the run)."""
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.1):
            if stop is not None and stop.is_set():
                child_stop.set()
                return

    threading.Thread(target=watch, name="firehose-stop", daemon=True).start()
    return finished
