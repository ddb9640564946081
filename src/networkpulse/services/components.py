"""Services ``pulse forest`` and ``pulse merge``: the components stage on Kafka, exactly once.

Forest workers are a consumer group over the interaction topic: each batch of messages is reduced per origin to
:class:`~networkpulse.components.PaneParts` (:func:`~networkpulse.components.reduce_panes`) and sent, keyed by
origin, in the transaction that commits the consumed offsets — stateless, so a plain
:func:`~networkpulse.bus.relay`. Scaling: up to the interaction topic's partition count.

The merger is one process (a group of one, for its transactions and offsets): it folds every worker's parts
into windows with :class:`~networkpulse.components.Merger` and sends each transaction's windows together with a
snapshot of its whole state to the compacted changelog topic ``<windows topic>.merger`` and the consumed offsets.
A restarted merger fences its predecessor, reads the last committed snapshot and goes on from the committed
offsets: nothing lost, nothing twice, and — the snapshot being exact — the very windows an undisturbed run emits.
After ``flush_idle_s`` without input it emits the open windows as provisional (like the end of ``pulse run``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from networkpulse import bus
from networkpulse.bus import DecodeError, RelayStats
from networkpulse.components import Merger, reduce_panes, window_record
from networkpulse.engine.types import Window, WindowConfig
from networkpulse.errors import ConfigError
from networkpulse.store.codec import decode_arrays, encode_arrays
from networkpulse.venturi import InteractionBatch

if TYPE_CHECKING:
    from networkpulse.metrics import ServiceMetrics

FOREST_GROUP = "pulse.forest"
MERGER_GROUP = "pulse.merger"
STATE_SUFFIX = ".merger"
# Snapshots hold a window's open state: far above Kafka's 1 MB default on dense windows.
STATE_MESSAGE_BYTES = 64 << 20
STATE_TOPIC_CONFIG = {"cleanup.policy": "compact", "max.message.bytes": str(STATE_MESSAGE_BYTES)}


def run_forest(
    source: str, sink: str, *, slide_ms: int, group: str = FOREST_GROUP, worker: str, partitions: int = 1,
    idle_s: float | None = None, stop: threading.Event | None = None, max_batch: int = 100,
    on_ready: Callable[[], None] | None = None, metrics: ServiceMetrics | None = None,
) -> RelayStats:
    """Relay interaction batches from ``source`` to pane parts on ``sink`` (created with ``partitions`` if
    missing) until ``stop`` or ``idle_s`` without input. O(interactions log interactions) per batch. ``metrics``
    counts the events and interactions folded and keeps the consumer lag."""
    from networkpulse.bus.avro import decode_interactions, encode_pane_parts

    bus.create_topics(sink, partitions)

    def step(batches: Sequence[InteractionBatch]) -> list[tuple[bytes | None, bytes]]:
        by_origin: dict[int, list[InteractionBatch]] = {}
        for batch in batches:
            by_origin.setdefault(batch.origin, []).append(batch)
        out: list[tuple[bytes | None, bytes]] = []
        if metrics is not None:
            metrics.count(sum(len(b.event_times_ms) for b in batches), sum(len(b.src) for b in batches))
        for origin, group_batches in sorted(by_origin.items()):
            if origin < 0:
                continue  # not from a raw partition: no watermark to keep; venturi on Kafka always sets it
            parts = reduce_panes(group_batches, slide_ms, origin, max(b.origins for b in group_batches))
            out.append((str(origin).encode(), encode_pane_parts(parts)))
        return out

    return bus.relay_between(source, sink, decode_interactions, step, group=group, worker=worker, on_ready=on_ready,
                             max_batch=max_batch, idle_s=idle_s, stop=stop,
                             on_poll=metrics.on_poll if metrics else None)


@dataclass(slots=True)
class MergerResult:
    """What the merger committed."""

    messages: int = 0
    windows: int = 0
    provisional: int = 0
    dead_letters: int = 0
    commits: int = 0
    aborts: int = 0
    restored: bool = False
    late_events: int = 0


def state_url(sink: str) -> str:
    """The merger's changelog topic for windows topic ``sink``."""
    return str(bus.BusUrl.parse(sink).with_topic(bus.BusUrl.parse(sink).topic + STATE_SUFFIX))


def config_json(config: WindowConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


def run_merger(
    source: str, sink: str, config: WindowConfig, *, group: str = MERGER_GROUP, worker: str = "0",
    idle_timeout_s: float = 60.0, flush_idle_s: float = 2.0, stop: threading.Event | None = None,
    until_idle_s: float | None = None, max_batch: int = 1000, on_ready: Callable[[], None] | None = None,
    metrics: ServiceMetrics | None = None,
) -> MergerResult:
    """Merge pane parts from ``source`` into windows on ``sink`` (one partition, created if missing) until ``stop``
    or ``until_idle_s`` without input (after the provisional flush). See the module docstring. ``metrics``: events,
    late events and windows emitted as committed, the watermark and the consumer lag after every poll."""
    from networkpulse.bus.avro import decode_pane_parts, encode_window
    from networkpulse.bus.kafka import read_last

    bus.create_topics(sink, 1)
    state = state_url(sink)
    bus.create_topics(state, 1, config=STATE_TOPIC_CONFIG)
    link = bus.open_link(source, sink, group=group, worker=worker,
                         config={"fetch.max.bytes": STATE_MESSAGE_BYTES})
    state_topic = bus.BusUrl.parse(state).topic
    result = MergerResult()
    text = config_json(config)
    try:
        merger = _restore(read_last(state), config, idle_timeout_s, result)
        if on_ready is not None:
            on_ready()
        last_input = time.monotonic()
        flushed = merger.buffered_panes == 0 and not result.restored
        counted = (merger.events, merger.engine.late_events)  # what the metrics have counted (restored: not again)
        while stop is None or not stop.is_set():
            messages = link.poll(max_batch, 0.2)
            now = time.monotonic()
            closed: list[Window] = []
            provisional: list[Window] = []
            dead = 0
            for message in messages:
                try:
                    parts = decode_pane_parts(message.value() or b"")
                    closed += merger.add(parts, now)
                except DecodeError as err:
                    link.dead_letter(message, err)
                    dead += 1
                except ValueError as err:  # parts of another slide
                    link.dead_letter(message, DecodeError("wrong_slide", str(err)))
                    dead += 1
            if metrics is not None:
                metrics.on_poll(link)
                metrics.set_watermark(merger.watermark_ms(now))
            if messages:
                last_input, flushed = now, False
            else:
                closed += merger.tick(now)
                if not flushed and now - last_input >= flush_idle_s:
                    provisional, flushed = merger.provisional(), True
            if not (messages or closed or provisional):
                if until_idle_s is not None and flushed and now - last_input >= until_idle_s:
                    break
                continue
            totals = _totals(merger)
            logins = merger.interner.logins
            link.send([(str(w.start_ms).encode(), encode_window(window_record(w, logins), text, totals))
                       for w in closed])
            link.send([(str(w.start_ms).encode(), encode_window(window_record(w, logins, True), text, totals))
                       for w in provisional])
            link.send([(b"merger", encode_arrays(merger.snapshot()))], topic=state_topic)
            committed = link.commit()
            if committed and metrics is not None:
                metrics.count(merger.events - counted[0], 0, late=merger.engine.late_events - counted[1])
                metrics.windows_emitted.inc(len(closed) + len(provisional))
            if committed:
                result.messages += len(messages)
                result.windows += len(closed)
                result.provisional += len(provisional)
                result.dead_letters += dead
                result.commits += 1
            else:  # rewound to the committed offsets: go back to the committed state too
                result.aborts += 1
                merger = _restore(read_last(state), config, idle_timeout_s, result)
            counted = (merger.events, merger.engine.late_events)
        result.late_events = merger.engine.late_events
    finally:
        link.close()
    return result


def _totals(merger: Merger) -> dict[str, int]:
    return {"events": merger.events, "interactions": merger.interactions, "late_events": merger.engine.late_events,
            "late_interactions": merger.late_interactions}


def _restore(blob: bytes | None, config: WindowConfig, idle_timeout_s: float, result: MergerResult) -> Merger:
    now = time.monotonic()
    if blob is None:
        return Merger(config, idle_timeout_s=idle_timeout_s, now_s=now)
    try:
        merger = Merger.restore(config, decode_arrays(blob), idle_timeout_s=idle_timeout_s, now_s=now)
    except ValueError as exc:
        raise ConfigError("window flags", "the settings of the merger that wrote the state topic", str(exc),
                          "start the merger with its earlier --window/--slide/--lateness/--min-size, or use "
                          "new topics") from None
    result.restored = True
    return merger


def merger_state(sink: str) -> dict[str, object] | None:
    """The merger's last committed state in brief (watermarks per origin, closed pane, totals) for ``pulse
    status``; None before its first commit."""
    from networkpulse.bus.kafka import read_last

    blob = read_last(state_url(sink))
    if blob is None:
        return None
    return Merger.describe(decode_arrays(blob))
