"""Service ``pulse persist``: the merger's windows → a store, exactly once by the store's own transaction.

The consumed offsets are store input positions (``kafka://…/TOPIC#PARTITION`` → next offset), committed in the
same transaction as the windows they produced; on start the persister reads them back and seeks there. Writes are
idempotent by window bounds anyway, so even a window read twice is stored once. The store's writer lock makes the
persister a single writer. Windows arrive with members by login: the persister interns them in the store's own
account order (rebuilt from ``store.logins()`` on start, as ``pulse run`` does). Provisional windows (the merger's
end-of-input flush) are stored as provisional, and replaced by the next write, as in the embedded mode.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from networkpulse.analytics import AnalyticsConfig, AnalyticsState, annotate
from networkpulse.bus import BusUrl, DecodeError
from networkpulse.components import WindowRecord
from networkpulse.engine.interning import Interner
from networkpulse.engine.types import Window
from networkpulse.errors import StoreError
from networkpulse.settings import describe_window
from networkpulse.store import open_store, redact_url
from networkpulse.store.base import PERSIST_WRITER, Checkpoint, InputPosition

if TYPE_CHECKING:
    from networkpulse.metrics import ServiceMetrics

PERSIST_GROUP = "pulse.persist"


@dataclass(slots=True)
class PersistResult:
    messages: int = 0
    windows: int = 0
    provisional: int = 0
    writes: int = 0
    dead_letters: int = 0


def position_key(url: BusUrl, partition: int) -> str:
    """The store input key of a partition of the windows topic."""
    return f"{url}#{partition}"


def run_persist(
    source: str, store_url: str, *, group: str = PERSIST_GROUP, stop: threading.Event | None = None,
    idle_s: float | None = None, max_batch: int = 2000, on_ready: Callable[[], None] | None = None,
    retention: int | None = None, metrics: ServiceMetrics | None = None, analytics: bool = True,
) -> PersistResult:
    """Store every window of ``source`` in ``store_url`` until ``stop`` or ``idle_s`` without input. One store
    transaction per poll batch (up to ``max_batch`` windows): O(members) plus the store's write, and the analytics
    stage (cluster ids and lineage, brokers, momentum: docs/analytics.md) unless ``analytics`` is off. ``metrics``:
    windows stored and the write latency, events as the merger counted them, the newest stored window's end as
    the watermark, the consumer lag after every poll."""
    from networkpulse.bus.avro import decode_window
    from networkpulse.bus.kafka import KafkaReader

    url = BusUrl.parse(source, "--from")
    store = open_store(store_url, retention=retention)
    result = PersistResult()
    try:
        interner = Interner()
        interner.ids(store.logins())
        checkpoint = store.checkpoint()
        if checkpoint is not None and checkpoint.state.get("writer") != PERSIST_WRITER:
            raise StoreError(f"{redact_url(store_url)}: written by `pulse run`, not by `pulse persist`; persist to "
                             "another store (or pass --start-over to `pulse run` there first)")
        config = checkpoint.config if checkpoint is not None else None
        # The analytics stage, as in `pulse run`: its state (in store account ids, which never change meaning) rides
        # in the store's checkpoint with the consumed offsets, so a restarted persister hands out the same ids.
        lives = (AnalyticsState.from_arrays(checkpoint.engine) if checkpoint is not None else None) or AnalyticsState()
        prefix = f"{url}#"
        positions = {int(k[len(prefix):]): p.line for k, p in store.inputs().items() if k.startswith(prefix)}
        reader = KafkaReader(url, group, positions)
        counted = int(checkpoint.state.get("totals", {}).get("events", 0)) if checkpoint is not None else 0
        if on_ready is not None:
            on_ready()
        last_input = time.monotonic()
        try:
            while stop is None or not stop.is_set():
                messages = reader.poll(max_batch, 0.5)
                if metrics is not None:
                    metrics.on_poll(reader)
                if not messages:
                    if idle_s is not None and time.monotonic() - last_input >= idle_s:
                        break
                    continue
                last_input = time.monotonic()
                finals: list[Window] = []
                provisional: list[Window] = []
                totals: dict[str, int] = {}
                moved: dict[int, int] = {}
                for message in messages:
                    moved[int(message.partition() or 0)] = int(message.offset() or 0) + 1
                    try:
                        record, text, totals = decode_window(message.value() or b"")
                    except DecodeError:
                        result.dead_letters += 1  # counted; a window topic holds only the merger's records
                        continue
                    window_config = json.loads(text)
                    if config is None:
                        config = window_config
                    elif window_config != config:
                        raise StoreError(
                            f"{redact_url(store_url)}: holds windows of {describe_window(config)}, but {source} "
                            f"carries {describe_window(window_config)}; persist it to another store"
                        )
                    window = _window(record, interner)
                    if record.provisional:
                        provisional.append(window)
                    else:
                        finals.append(window)
                        provisional = []  # a later final window means the flush before it is out of date
                if not finals and not provisional and not moved:
                    continue
                stats = _stats(totals)
                inputs = {position_key(url, p): InputPosition(o, False, 0, 0) for p, o in moved.items()}
                state = {"writer": PERSIST_WRITER, "totals": totals}
                notes = None
                if analytics:
                    step = AnalyticsConfig(step_ms=_step_ms(config or {}))
                    lives, notes = annotate(lives, finals, step)
                    if provisional:  # from a copy of the state: the next write replaces these windows
                        notes += annotate(lives, provisional, step)[1]
                started = time.perf_counter()
                stored = store.write(finals, interner.logins, stats, analytics=notes, provisional=provisional,
                                     checkpoint=Checkpoint(config or {}, state, lives.to_arrays(), inputs))
                reader.report(moved)
                if metrics is not None:
                    metrics.on_write(len(finals), len(stored), time.perf_counter() - started)
                    events = int(totals.get("events", counted))
                    metrics.count(max(0, events - counted), 0)
                    counted = max(counted, events)
                    if finals:
                        metrics.set_watermark(finals[-1].end_ms)
                result.messages += len(messages)
                result.windows += len(finals)
                result.provisional += len(provisional)
                result.writes += 1
        finally:
            reader.close()
    finally:
        store.close()
    return result


def _window(record: WindowRecord, interner: Interner) -> Window:
    """A wire window → the same :class:`Window` in this store's account ids, members sorted inside each cluster
    (the store's layout), cluster pairs as sorted ``(low, high)`` rows inside each cluster (the engine's layout,
    which the analytics stage reads). O(members log members + pairs log pairs)."""
    w = record.window
    ids = interner.ids(record.logins).astype(np.int64)
    cluster = np.repeat(np.arange(w.n_clusters), np.diff(w.offsets))
    members = ids[np.lexsort((ids, cluster))].astype(np.int32)
    tree = ids[w.tree_edges].astype(np.int32).reshape(-1, 2)
    if w.pairs is None or w.pair_offsets is None or w.pair_panes is None:
        return dataclasses.replace(w, members=members, tree_edges=tree)
    ends = ids[w.pairs].reshape(-1, 2)
    low, high = ends.min(axis=1), ends.max(axis=1)
    owner = np.repeat(np.arange(w.n_clusters), np.diff(w.pair_offsets))
    order = np.lexsort((high, low, owner))
    pairs = np.stack([low[order], high[order]], axis=1).astype(np.int32)
    return dataclasses.replace(w, members=members, tree_edges=tree, pairs=pairs, pair_panes=w.pair_panes[order])


def _step_ms(config: dict[str, object]) -> int:
    """The analytics' step between windows: the slide, or the size of rolling windows (as in `pulse run`)."""
    size, slide = int(config.get("size_ms", 0) or 0), int(config.get("slide_ms", 0) or 0)  # type: ignore[call-overload]
    return size if config.get("rolling") else slide


def _stats(totals: dict[str, int]) -> dict[str, object]:
    """The store's stats from the merger's totals. Venturi's filter counts stay with the venturi workers (their
    logs): the window path carries events and interactions only."""
    events = int(totals.get("events", 0))
    return {
        "events": events,
        "interactions": int(totals.get("interactions", 0)),
        "kept_events": events,
        "filtered_events": 0,
        "filtered_share": 0.0,
        "dropped": {},
        "late_events": int(totals.get("late_events", 0)),
        "skipped_lines": 0,
        "events_per_s": 0.0,
    }
