"""Service ``pulse venturi``: raw Avro events → interaction batches, a consumer-group member, exactly once.

Each worker is a :func:`~networkpulse.bus.relay` over an exactly-once :class:`~networkpulse.bus.Link`: a batch of
raw events is decoded, :func:`~networkpulse.venturi.extract` applies the same counterpart rules as the embedded
mode, and the batch's interactions go out as one :data:`~networkpulse.bus.avro.INTERACTIONS` message in the same
transaction that commits the consumed offsets — one message per raw partition in the batch, carrying it as its
*origin* (see :mod:`networkpulse.components.merger`). A message that is not a raw event (Avro or shape) goes to the
``.dlq`` topic with its reason. Scaling: members of one group share the raw topic's partitions, so up to that many
workers are busy; each needs its own stable ``worker`` id (its ``transactional.id`` is ``<group>.<worker>``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from networkpulse import bus
from networkpulse.bus import DecodeError, RelayStats
from networkpulse.events import RawEvent
from networkpulse.venturi import FilterStats, extract

if TYPE_CHECKING:
    from networkpulse.metrics import ServiceMetrics

DEFAULT_GROUP = "pulse.venturi"
_EVENT = msgspec.json.Decoder(RawEvent)


def decode_event(message: bytes) -> RawEvent:
    """A raw-event message → the typed partial event venturi reads; :class:`DecodeError` for anything else
    (``bad_body`` when the Avro record is not a GH Archive event). O(size of the event)."""
    from networkpulse.bus.raw_event import raw_event_text, read_record

    try:
        # Through JSON text: the same decoder as the files, so every era's quirks are read the same way.
        return _EVENT.decode(raw_event_text(read_record(message)))
    except (msgspec.DecodeError, RecursionError) as exc:
        raise DecodeError("bad_body", f"a raw-event record that is not a GH Archive event: {exc}") from None


@dataclass(slots=True)
class VenturiResult:
    """What a worker committed (``relay``) and what the rules dropped (``filters``; batches of aborted
    transactions are counted again when they come back)."""

    relay: RelayStats = field(default_factory=RelayStats)
    filters: FilterStats = field(default_factory=FilterStats)


def run_venturi(
    source: str,
    sink: str,
    *,
    group: str = DEFAULT_GROUP,
    worker: str,
    partitions: int = 4,
    idle_s: float | None = None,
    stop: threading.Event | None = None,
    max_batch: int = 10_000,
    on_ready: Callable[[], None] | None = None,
    metrics: ServiceMetrics | None = None,
) -> VenturiResult:
    """Relay ``source`` (raw events) to ``sink`` (interaction batches) until ``stop`` is set or no input came for
    ``idle_s`` seconds; creates ``sink`` with ``partitions`` partitions if it is missing. ``on_ready()`` is called
    once the worker has its transactional identity (a crashed predecessor fenced) and has subscribed.

    One output message per input batch of up to ``max_batch`` events (a 10 000-event batch gives ~4 000
    interactions, ~0.3 MB). O(events): the Avro decode and the rules' one Python loop per event. ``metrics``
    (``--metrics-port``) counts events, interactions and filtered events by reason per batch (a batch whose
    transaction aborts is counted again when it comes back, as in the result) and the consumer lag per poll.
    """
    from networkpulse.bus.avro import encode_interactions

    bus.create_topics(sink, partitions)
    result = VenturiResult()

    origins = bus.partition_count(source)

    def step(events: Sequence[tuple[int, RawEvent]]) -> list[tuple[bytes | None, bytes]]:
        # One batch per origin (raw partition: one time-ordered stream), keyed by it, so an origin's batches stay
        # in order on one partition downstream and the merger can keep a watermark per origin. A batch without
        # interactions goes out too: its event times count the window's events downstream.
        by_origin: dict[int, list[RawEvent]] = {}
        for partition, event in events:
            by_origin.setdefault(partition, []).append(event)
        out: list[tuple[bytes | None, bytes]] = []
        stats = FilterStats()
        for origin, group_events in sorted(by_origin.items()):
            batch = extract(group_events, stats)
            batch.origin, batch.origins = origin, origins
            out.append((str(origin).encode(), encode_interactions(batch)))
        result.filters.merge(stats)
        if metrics is not None:
            metrics.count(stats.events, stats.interactions, filtered=stats.dropped)
        return out

    result.relay = bus.relay_between(source, sink, decode_event, step, group=group, worker=worker, on_ready=on_ready,
                                     max_batch=max_batch, idle_s=idle_s, stop=stop, with_partition=True,
                                   on_poll=metrics.on_poll if metrics else None)
    return result

