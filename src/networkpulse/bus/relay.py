"""The consume-transform-produce loop every stage runs over a :class:`~networkpulse.bus.base.Link`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from networkpulse.bus.base import DecodeError, Link

T = TypeVar("T")
Step = Callable[[Sequence[T]], Iterable[tuple[bytes | None, bytes]]]


@dataclass(slots=True)
class RelayStats:
    """What a :func:`relay` committed: messages consumed, sent and dead-lettered, transactions, aborted ones."""

    consumed: int = 0
    produced: int = 0
    dead_letters: int = 0
    commits: int = 0
    aborts: int = 0


def relay(
    link: Link,
    decode: Callable[[bytes], T],
    step: Step[T],
    *,
    max_batch: int = 10_000,
    poll_timeout_s: float = 0.5,
    idle_s: float | None = None,
    stop: threading.Event | None = None,
    with_partition: bool = False,
    on_poll: Callable[[Link, RelayStats], None] | None = None,
) -> RelayStats:
    """Poll up to ``max_batch`` messages, ``decode`` each, run ``step`` over the batch, send what it yields as
    ``(key, value)`` pairs and commit — one transaction per batch — until ``stop`` is set or nothing arrived for
    ``idle_s`` seconds (None: forever).

    A message whose ``decode`` raises :class:`~networkpulse.bus.base.DecodeError` goes to the dead-letter topic
    with its reason and the loop goes on; any other exception propagates with the batch uncommitted, so a restarted
    worker sees it again. An aborted commit rewinds the link and the batch comes again (``step`` must not keep
    state it cannot see twice). With ``with_partition`` ``step`` gets ``(partition, record)`` pairs: the source
    partition each record came from (an origin stream for the window merger). ``on_poll(link, stats)`` runs after
    every poll, idle or committed (metrics: lag, counters). O(messages) plus ``step``; one
    commit per batch amortises the transaction's two broker round trips over up to ``max_batch`` messages.
    """
    stats = RelayStats()
    last_seen = time.monotonic()
    while stop is None or not stop.is_set():
        messages = link.poll(max_batch, poll_timeout_s)
        if not messages:
            if on_poll is not None:
                on_poll(link, stats)
            if idle_s is not None and time.monotonic() - last_seen >= idle_s:
                break
            continue
        last_seen = time.monotonic()
        records: list[T] = []
        dead = 0
        for message in messages:
            try:
                record = decode(message.value() or b"")
                records.append((message.partition(), record) if with_partition else record)  # type: ignore[arg-type]
            except DecodeError as err:
                link.dead_letter(message, err)
                dead += 1
        produced = link.send(step(records))
        if link.commit():
            stats.consumed += len(messages)
            stats.produced += produced
            stats.dead_letters += dead
            stats.commits += 1
        else:
            stats.aborts += 1
        if on_poll is not None:
            on_poll(link, stats)
    return stats
