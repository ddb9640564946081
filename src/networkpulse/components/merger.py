"""The window merger: pane parts from every origin → the window engine, under per-origin watermarks.

Watermark. An *origin* is one ordered stream: a partition of the raw topic, written by one firehose producer in
event-time order. Its watermark is the newest event time it delivered. The merger's watermark is the *minimum*
over origins minus the allowed lateness, so a pane closes only once every origin has passed it — the per-origin
streams may run hours apart (two producers replaying different files) without anything arriving late. An origin
silent for ``idle_timeout_s`` (wall clock, handed in by the caller) stops holding the watermark back, and one never
heard from holds it back for ``idle_timeout_s`` after start; when it speaks again it counts again (its events
behind the watermark are late: counted, as in the embedded mode).

Engine. Parts of panes at or below the watermark's pane are fed to the same :class:`WindowEngine` as the embedded
mode (with lateness 0: the merger decides what is late), as pairs repeated by multiplicity at their pane's start,
so the window counts, components and trees are computed by the very same code. Parts of later panes wait in a
buffer. At the end of a stream (the caller sees no input for a while) :meth:`Merger.provisional` emits the
remaining windows from a *copy*, like the embedded run's end-of-input flush; later input makes them final.

Checkpoints. :meth:`Merger.snapshot` is the whole state as named arrays with the account table *compacted*: only
accounts the open state refers to, renumbered in their old order. Every output depends on ids only through their
order (sorted members, ties broken by smallest id, pair keys), so a restored merger emits exactly the windows the
uninterrupted one would have — and a checkpoint is as small as a window's state, not the history of accounts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from networkpulse.components.panes import NO_TIME, PaneParts
from networkpulse.engine.interning import Interner
from networkpulse.engine.types import Window, WindowConfig
from networkpulse.engine.windows import PAIR_KEY_ARRAYS, VERTEX_ARRAYS, WindowEngine

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
MergerState = dict[str, np.ndarray]
_NONE = np.iinfo(np.int64).min
# Engine snapshot arrays holding vertex ids, and those holding pair keys ((low << 32) | high).
_ID_ARRAYS = VERTEX_ARRAYS
_KEY_ARRAYS = PAIR_KEY_ARRAYS
_LOW = np.int64(0xFFFFFFFF)


@dataclass(slots=True)
class WindowRecord:
    """A window as it travels to the persister, accounts by login: ``window`` numbers its listed clusters'
    members ``0, 1, …`` in order (so its ``tree_edges`` are positions) and ``logins[i]`` names member ``i``."""

    window: Window
    logins: list[str]
    provisional: bool = False


def window_record(window: Window, logins: list[str], provisional: bool = False) -> WindowRecord:
    """``window`` (engine ids named by the table ``logins``) → a :class:`WindowRecord`; its tree edges and cluster
    pairs (if any) become member positions. O(members + pairs)."""
    members = window.members
    order = np.argsort(members, kind="stable")
    # A vertex is in one cluster only, so one lookup serves the whole window.
    tree = _positions(window.tree_edges, members, order)
    pairs = None if window.pairs is None else _positions(window.pairs, members, order)
    local = dataclasses.replace(window, members=np.arange(len(members), dtype=np.int32), tree_edges=tree, pairs=pairs)
    return WindowRecord(local, [logins[v] for v in members.tolist()], provisional)


def _positions(ids: npt.NDArray[np.int32], members: npt.NDArray[np.int32], order: npt.NDArray[np.intp]) -> I32:
    """Rows of vertex ids → rows of their positions in ``members`` (every id must be a member). O(n log m)."""
    flat = ids.reshape(-1)
    return order[np.searchsorted(members, flat, sorter=order)].astype(np.int32).reshape(-1, 2)


@dataclass(slots=True)
class _Buffered:
    events: int = 0
    interactions: int = 0
    src: list[I32] = field(default_factory=list)
    dst: list[I32] = field(default_factory=list)
    mult: list[I32] = field(default_factory=list)


class Merger:
    """Fold :class:`PaneParts` from every origin into windows. Per message O(its pairs); per closed pane and
    window, the engine's costs."""

    def __init__(self, config: WindowConfig, *, idle_timeout_s: float = 60.0, now_s: float = 0.0) -> None:
        self.config = config
        self.idle_timeout_s = idle_timeout_s
        # With each cluster's distinct pairs: the persister's analytics (brokers) need them, as in `pulse run`.
        self.engine = WindowEngine(dataclasses.replace(config, lateness_ms=0), cluster_pairs=True)
        self.interner = Interner()
        self._buffer: dict[int, _Buffered] = {}
        self.watermarks: dict[int, int] = {}  # origin -> newest event time
        self._heard: dict[int, float] = {}  # origin -> when its last message came (not checkpointed)
        self.origins = 0
        self._started_s = now_s
        self.closed: int | None = None  # every pane below this one is closed
        self.events = 0  # every event received, on time or late
        self.interactions = 0
        self.late_interactions = 0

    # ------------------------------------------------------------------ input

    def add(self, parts: PaneParts, now_s: float) -> list[Window]:
        """Take one origin's parts; returns the windows the watermark closed. A part of a closed pane is late.
        ``ValueError`` for parts cut by another slide (a forest worker started with other window flags)."""
        if parts.slide_ms != self.config.slide_ms:
            raise ValueError(f"pane parts cut by a {parts.slide_ms} ms slide, but this merger's slide is "
                             f"{self.config.slide_ms} ms: start the forest workers with the merger's --slide")
        origin = parts.origin
        self.origins = max(self.origins, parts.origins, origin + 1)
        self._heard[origin] = now_s
        if parts.max_time_ms > NO_TIME:
            self.watermarks[origin] = max(self.watermarks.get(origin, NO_TIME), parts.max_time_ms)
        ids = self.interner.ids(parts.logins)
        for pane, events, interactions, rows in parts.parts():
            self.events += events
            self.interactions += interactions
            if self.closed is not None and pane < self.closed:
                self.engine.late_events += events
                self.late_interactions += interactions
                continue
            held = self._buffer.get(pane)
            if held is None:
                held = self._buffer[pane] = _Buffered()
            held.events += events
            held.interactions += interactions
            if rows.stop > rows.start:
                held.src.append(ids[parts.src[rows]])
                held.dst.append(ids[parts.dst[rows]])
                held.mult.append(parts.mult[rows])
        return self.tick(now_s)

    def watermark_ms(self, now_s: float) -> int | None:
        """The minimum over live origins of their newest event time; None while an origin not heard from yet may
        still speak, or when every origin is idle."""
        live = []
        for origin in range(self.origins):
            if origin not in self.watermarks:
                if now_s - self._started_s < self.idle_timeout_s:
                    return None
            elif now_s - self._heard.get(origin, now_s) < self.idle_timeout_s:
                live.append(self.watermarks[origin])
        return min(live) if live else None

    def tick(self, now_s: float) -> list[Window]:
        """Advance the watermark (origins may have gone idle since the last call); returns the windows closed."""
        watermark = self.watermark_ms(now_s)
        if watermark is None:
            return []
        target = (watermark - self.config.lateness_ms) // self.config.slide_ms
        if self.closed is not None and target <= self.closed:
            return []
        self.closed = target
        ready = sorted(p for p in self._buffer if p <= target)
        return _feed(self.engine, [(p, self._buffer.pop(p)) for p in ready], self.config.slide_ms)

    def provisional(self) -> list[Window]:
        """The windows an end of input would emit now (the embedded run's final flush), computed on a copy: the
        merger goes on as if nothing happened. O(the open state)."""
        copy = WindowEngine.restore(self.engine.config, self.engine.snapshot(), len(self.interner), cluster_pairs=True)
        windows = _feed(copy, sorted(self._buffer.items()), self.config.slide_ms)
        return windows + copy.flush()

    @property
    def buffered_panes(self) -> int:
        return len(self._buffer)

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> MergerState:
        """The whole state as named arrays, accounts compacted (see the module docstring). O(the open state)."""
        engine = self.engine.snapshot()
        panes = sorted(self._buffer.items())
        buf_src = _cat([np.concatenate(b.src) if b.src else np.empty(0, np.int32) for _, b in panes])
        buf_dst = _cat([np.concatenate(b.dst) if b.dst else np.empty(0, np.int32) for _, b in panes])
        buf_mult = _cat([np.concatenate(b.mult) if b.mult else np.empty(0, np.int32) for _, b in panes])
        used = [engine[k] for k in _ID_ARRAYS] + [buf_src, buf_dst]
        used += [a >> 32 for a in (engine[k] for k in _KEY_ARRAYS)] + [engine[k] & _LOW for k in _KEY_ARRAYS]
        keep = np.unique(np.concatenate([a.astype(np.int64) for a in used]))

        def remap(a: np.ndarray) -> I32:
            return np.searchsorted(keep, a).astype(np.int32)

        state: MergerState = {f"engine.{k}": v for k, v in engine.items()}
        for k in _ID_ARRAYS:
            state[f"engine.{k}"] = remap(engine[k])
        for k in _KEY_ARRAYS:
            keys = engine[k]
            state[f"engine.{k}"] = (remap(keys >> 32).astype(np.int64) << 32) | remap(keys & _LOW).astype(np.int64)
        logins = self.interner.logins
        state["logins"] = np.frombuffer("\n".join(logins[i] for i in keep.tolist()).encode(), np.uint8)
        state["n_logins"] = np.array([len(keep)], np.int64)
        state["buf_meta"] = np.array([[p, b.events, b.interactions, sum(len(s) for s in b.src)] for p, b in panes],
                                     np.int64).reshape(-1, 4)
        state["buf_src"], state["buf_dst"], state["buf_mult"] = remap(buf_src), remap(buf_dst), buf_mult
        state["watermarks"] = np.array(sorted(self.watermarks.items()), np.int64).reshape(-1, 2)
        state["scalars"] = np.array(
            [self.origins, _NONE if self.closed is None else self.closed, self.events, self.interactions,
             self.late_interactions], np.int64)
        c = self.config
        state["config"] = np.array([c.size_ms, c.slide_ms, int(c.rolling), c.lateness_ms, c.min_size], np.int64)
        return state

    @staticmethod
    def describe(state: Mapping[str, np.ndarray]) -> dict[str, object]:
        """A :meth:`snapshot` in brief, for monitoring: origins and their watermarks, how far windows are
        closed, the event and interaction totals, the window shape. O(origins)."""
        size_ms, slide_ms = (int(x) for x in state["config"][:2])
        origins, closed, events, interactions, _ = state["scalars"].tolist()
        return {
            "origins": origins,
            "watermarks_ms": {int(o): int(t) for o, t in state["watermarks"].tolist()},
            "closed_until_ms": None if closed == _NONE else closed * slide_ms,
            "events": events,
            "interactions": interactions,
            "window_ms": size_ms,
            "slide_ms": slide_ms,
        }

    @classmethod
    def restore(cls, config: WindowConfig, state: Mapping[str, np.ndarray], *, idle_timeout_s: float = 60.0,
                now_s: float = 0.0) -> Merger:
        """A merger that continues exactly where the one that took ``state`` stood; ``ValueError`` if ``state``
        was taken under another window configuration. O(size of the state)."""
        want = [config.size_ms, config.slide_ms, int(config.rolling), config.lateness_ms, config.min_size]
        if state["config"].tolist() != want:
            raise ValueError(f"merger checkpoint taken with window config {state['config'].tolist()}, not {want}")
        merger = cls(config, idle_timeout_s=idle_timeout_s, now_s=now_s)
        n = int(state["n_logins"][0])
        logins = bytes(state["logins"]).decode().split("\n") if n else []
        merger.interner = Interner.from_logins(logins)
        engine = {k.removeprefix("engine."): v for k, v in state.items() if k.startswith("engine.")}
        merger.engine = WindowEngine.restore(merger.engine.config, engine, n, cluster_pairs=True)
        at = 0
        for pane, events, interactions, count in state["buf_meta"].tolist():
            held = merger._buffer[pane] = _Buffered(events, interactions)
            if count:
                held.src.append(state["buf_src"][at : at + count].copy())
                held.dst.append(state["buf_dst"][at : at + count].copy())
                held.mult.append(state["buf_mult"][at : at + count].copy())
            at += count
        merger.watermarks = {int(o): int(t) for o, t in state["watermarks"].tolist()}
        merger._heard = dict.fromkeys(merger.watermarks, now_s)
        origins, closed, merger.events, merger.interactions, merger.late_interactions = state["scalars"].tolist()
        merger.origins, merger.closed = origins, None if closed == _NONE else closed
        return merger


def _feed(engine: WindowEngine, panes: list[tuple[int, _Buffered]], slide_ms: int) -> list[Window]:
    """Add buffered panes to ``engine`` in one call: every pair repeated by its multiplicity at the pane's start
    (the engine counts interactions and deduplicates pairs itself), every event at the pane's start."""
    if not panes:
        return []
    src, dst, times, event_times = [], [], [], []
    for pane, held in panes:
        start = pane * slide_ms
        if held.src:
            mult = np.concatenate(held.mult)
            src.append(np.repeat(np.concatenate(held.src), mult))
            dst.append(np.repeat(np.concatenate(held.dst), mult))
            times.append(np.full(int(mult.sum()), start, np.int64))
        event_times.append(np.full(held.events, start, np.int64))
    return engine.add(_cat(src), _cat(dst), _cat64(times), _cat64(event_times))


def _cat(arrays: list[np.ndarray]) -> I32:
    return np.concatenate(arrays).astype(np.int32, copy=False) if arrays else np.empty(0, np.int32)


def _cat64(arrays: list[np.ndarray]) -> I64:
    return np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.empty(0, np.int64)
