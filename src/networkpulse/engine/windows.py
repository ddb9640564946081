"""Event-time windows over the interaction stream: panes, watermark, lateness, compact vertex slots.

Time is cut into *panes* of length ``slide``. A pane's interactions are reduced once, when the pane closes, to
its distinct pairs and a spanning forest. A sliding window of ``size = k · slide`` is the union of its k pane
forests, so an edge is reduced once and its pane's forest folded k times — forests, not raw edges (the 2016
system re-folded every edge into each of the W/S windows). Vertices live in compact slots while a pane of the
window holds them, so the scratch of the union-find is window-sized and memory stays flat on endless streams.

Watermark: ``max event time seen − lateness``; it advances between ``add`` calls (batches), so within one batch
order does not matter. A pane ``[p·S, (p+1)·S)`` closes when the watermark reaches its end; events that arrive
for a closed pane are late: counted, not applied.

Emitted windows are aligned to ``slide`` and only those holding at least one event are emitted (a gap of years
between two files costs nothing). This module is pure: no I/O, no clock, no other pipeline stage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from networkpulse.engine.forest import (
    PairCounter,
    acquire_slots,
    empty_forest,
    pane_forest,
    release_slots,
    spanning_forest,
    window_summary,
)
from networkpulse.engine.types import IdArray, Window, WindowConfig

Forest = tuple[IdArray, IdArray]
I64 = npt.NDArray[np.int64]
#: A checkpoint of the engine's open state: named arrays (see :meth:`WindowEngine.snapshot`).
EngineState = dict[str, np.ndarray]
_NONE = np.iinfo(np.int64).min  # "not set yet" for optional scalars in a snapshot


@dataclass(slots=True)
class _OpenPane:
    events: int = 0
    interactions: int = 0
    src: list[IdArray] = field(default_factory=list)
    dst: list[IdArray] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Pane:
    index: int
    events: int
    interactions: int
    keys: I64  # distinct undirected pairs, (low << 32) | high, in global ids
    forest: Forest  # in slot ids
    edges: Forest  # the same forest in global ids
    slots: IdArray  # the distinct slots of the pane's vertices (every vertex is a forest endpoint)


class _Slots:
    """Compact vertex slots: a vertex gets a slot while a closed pane of the window holds it.

    ``gid[slot]`` is the slot's global id and ``refs[slot]`` how many held panes hold it; freed slots are reused
    (a stack), so every array here is as large as the largest window, not as the accounts ever seen — the
    union-find scratch stays in L2 cache and an endless stream keeps its memory. ``sorted_gid`` lists the live
    vertices ascending with their slots in ``sorted_slot``: sorted members come from one scatter, and a pane's
    vertices find their slots by one merge walk (no hash table).

    ``acquire``/``release``: O(p + V) sequential per pane of p vertices in a window of V (numba kernels); the
    arrays double when full and never shrink.
    """

    def __init__(self, capacity: int = 1024) -> None:
        capacity = max(capacity, 16)
        self.gid = np.full(capacity, -1, np.int32)
        self.refs = np.zeros(capacity, np.int32)
        self.parent = np.zeros(capacity, np.int32)
        self.label = np.zeros(capacity, np.int32)
        self._free = np.arange(capacity - 1, -1, -1, dtype=np.int32)  # a stack: lowest slots first
        self._n_free = capacity
        self._gid_buf = np.empty(capacity, np.int32)
        self._slot_buf = np.empty(capacity, np.int32)
        self.n = 0  # live vertices
        self.top = 0  # every slot handed out so far is below this

    @property
    def sorted_gid(self) -> IdArray:
        return self._gid_buf[: self.n]

    @property
    def sorted_slot(self) -> IdArray:
        return self._slot_buf[: self.n]

    def _grow(self, need: int) -> None:
        old = len(self.gid)
        capacity = max(2 * old, old + need)
        self.gid = np.r_[self.gid, np.full(capacity - old, -1, np.int32)]
        self.refs = np.r_[self.refs, np.zeros(capacity - old, np.int32)]
        self.parent, self.label = np.zeros(capacity, np.int32), np.zeros(capacity, np.int32)
        free = np.empty(capacity, np.int32)  # the new slots under the free ones: used last
        free[: capacity - old] = np.arange(capacity - 1, old - 1, -1, dtype=np.int32)
        free[capacity - old : capacity - old + self._n_free] = self._free[: self._n_free]
        self._free = free
        self._n_free += capacity - old
        for name in ("_gid_buf", "_slot_buf"):
            buf = np.empty(capacity, np.int32)
            buf[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, buf)

    def acquire(self, verts: IdArray) -> IdArray:
        """The slots of ``verts`` (global ids, ascending, distinct), taking one pane reference on each."""
        if len(verts) > self._n_free:
            self._grow(len(verts) - self._n_free)
        slots, self.n, self._n_free, top = acquire_slots(
            verts, self._gid_buf, self._slot_buf, self.n, self.gid, self.refs, self._free, self._n_free)
        self.top = max(self.top, top)
        return slots

    def close_pane(self, keys: I64) -> tuple[I64, Forest, IdArray]:
        """A closing pane's sorted pair keys (repeats allowed) → its distinct keys, its forest in slot ids and
        its vertices' slots (one reference taken on each). One kernel call (:func:`pane_forest`)."""
        if 2 * len(keys) > self._n_free:
            self._grow(2 * len(keys) - self._n_free)
        high = np.sort((keys & 0xFFFFFFFF).astype(np.int32))
        keys, fu, fv, slots, self.n, self._n_free, top = pane_forest(
            keys, high, self._gid_buf, self._slot_buf, self.n, self.gid, self.refs, self._free, self._n_free,
            self.parent)
        self.top = max(self.top, top)
        return keys, (fu, fv), slots

    def release(self, slots: IdArray) -> None:
        """Drop one pane reference on each of ``slots`` (distinct); slots no pane holds any more are freed."""
        self.n, self._n_free = release_slots(
            slots, self._gid_buf, self._slot_buf, self.n, self.gid, self.refs, self._free, self._n_free)

    def to_global(self, forest: Forest) -> Forest:
        return self.gid[forest[0]], self.gid[forest[1]]


def _pair_keys(src: IdArray, dst: IdArray) -> I64:
    low = np.minimum(src, dst).astype(np.int64)
    high = np.maximum(src, dst).astype(np.int64)
    return (low << 32) | high


class WindowEngine:
    """Feed ``add`` with batches of interned interactions; get back the windows that closed.

    Per batch: O(n log n) for n interactions (grouping by pane); per closed pane: O(m log m) dedupe of its m
    interactions plus an O(m α) forest and O(V) slot bookkeeping; per emitted window: O(F α + V) for the F edges
    of its k pane forests and its V vertices, in one kernel call.

    A window is the union of its k pane forests, oldest first, in one pass. Measured against the two-stacks
    aggregation this engine used before (suffix unions rebuilt every k slides): on the real-like sparse stream of
    ``benchmarks/engine.py`` the k pane forests add up to only 1.04–1.16× the window's forest, so two-stacks saved
    little and paid for its rebuild merges; see the benchmark for both streams.

    ``cluster_pairs``: also emit each listed cluster's distinct pairs (``Window.pairs``), for the analytics
    stage; adds O(pair table capacity + P log V + Q log Q) per window for the P pairs held and Q pairs inside
    listed clusters, and changes nothing else the engine emits or keeps.

    Memory follows the window, not the stream: vertex slots are freed when no pane holds them (rolling mode keeps
    every vertex by definition), and :meth:`live_ids` tells the interner which ids it must keep.
    """

    def __init__(self, config: WindowConfig, *, cluster_pairs: bool = False, capacity: int = 1024) -> None:
        if config.slide_ms <= 0 or config.size_ms <= 0:
            raise ValueError("window size and slide must be positive")
        if config.size_ms % config.slide_ms:
            raise ValueError("window size must be a multiple of the slide")
        self.config = config
        self.cluster_pairs = cluster_pairs
        self.late_events = 0
        self.late_interactions = 0
        self._k = config.size_ms // config.slide_ms
        self._slots = _Slots(capacity)
        self._open: dict[int, _OpenPane] = {}
        self._next_pane: int | None = None  # every pane below this one is closed
        self._max_time: int | None = None
        self._pairs = PairCounter()
        self._events = 0
        self._interactions = 0
        # sliding state
        self._panes: deque[_Pane] = deque()
        # rolling state: the cumulative forest in slot ids
        self._cumulative: Forest = empty_forest()
        self._rolling_start: int | None = None
        self._period_has_data = False

    # ------------------------------------------------------------------ input

    def add(self, src: IdArray, dst: IdArray, times_ms: I64, event_times_ms: I64) -> list[Window]:
        """Add one batch: interactions ``(src[i], dst[i])`` at ``times_ms[i]``, and the times of every event of
        the batch (kept or filtered). Returns the windows closed by the watermark after this batch."""
        slide = self.config.slide_ms
        closed = self._next_pane
        event_panes = event_times_ms // slide
        pane_ids = times_ms // slide
        if closed is not None:
            late = event_panes < closed
            self.late_events += int(late.sum())
            event_panes = event_panes[~late]
            on_time = pane_ids >= closed
            self.late_interactions += int(len(pane_ids) - on_time.sum())
            src, dst, pane_ids = src[on_time], dst[on_time], pane_ids[on_time]
        for pane, n in zip(*np.unique(event_panes, return_counts=True), strict=True):
            self._open_pane(int(pane)).events += int(n)
        if len(pane_ids):
            order = np.argsort(pane_ids, kind="stable")
            sorted_panes = pane_ids[order]
            starts = np.flatnonzero(np.r_[True, sorted_panes[1:] != sorted_panes[:-1]])
            for lo, hi in zip(starts, np.r_[starts[1:], len(order)], strict=True):
                pane = self._open_pane(int(sorted_panes[lo]))
                idx = order[lo:hi]
                pane.src.append(src[idx])
                pane.dst.append(dst[idx])
                pane.interactions += int(hi - lo)
        if len(event_times_ms) or len(times_ms):
            top = int(max(event_times_ms.max(initial=-(2**62)), times_ms.max(initial=-(2**62))))
            self._max_time = top if self._max_time is None else max(self._max_time, top)
        if self._max_time is None:
            return []
        return self._close_until((self._max_time - self.config.lateness_ms) // slide)

    @property
    def watermark_ms(self) -> int | None:
        """Newest event time seen minus the allowed lateness (None before any event)."""
        return None if self._max_time is None else self._max_time - self.config.lateness_ms

    def late_mask(self, times_ms: I64) -> npt.NDArray[np.bool_]:
        """Which of ``times_ms`` the next :meth:`add` would drop as late (their pane is already closed). O(n)."""
        if self._next_pane is None:
            return np.zeros(len(times_ms), np.bool_)
        return times_ms // self.config.slide_ms < self._next_pane

    def live_ids(self) -> IdArray:
        """Every vertex id the engine still holds (closed panes of the open window, the rolling forest, and the
        open panes' interactions), ascending: an interner may forget every other id. O(V + open interactions)."""
        parts = [self._slots.sorted_gid]
        for pane in self._open.values():
            parts += pane.src + pane.dst
        return np.unique(np.concatenate(parts)).astype(np.int32, copy=False)

    def flush(self) -> list[Window]:
        """End of stream: close every open pane and emit every remaining window that holds an event."""
        target = max(self._open) + 1 if self._open else (self._next_pane or 0)
        if self.config.rolling:
            period = self._k
            target = -(-target // period) * period  # end of the tumbling period holding the last pane
        else:
            target += self._k - 1
        return self._close_until(target)

    def _open_pane(self, index: int) -> _OpenPane:
        pane = self._open.get(index)
        if pane is None:
            pane = self._open[index] = _OpenPane()
        return pane

    # ------------------------------------------------------------------ closing

    def _close_until(self, target: int) -> list[Window]:
        """Close every pane with index < ``target``, emitting windows; skip stretches without events."""
        if self._next_pane is None:
            if not self._open:
                return []
            # Never start past ``target``: panes between it and the first event are still open for late data.
            self._next_pane = min(min(self._open), target)
        out: list[Window] = []
        close = self._close_rolling if self.config.rolling else self._close_sliding
        while self._next_pane < target:
            p = self._next_pane
            window = close(p)
            if window is not None:
                out.append(window)
            self._next_pane = p + 1
            if self._idle():  # jump over panes without events, up to the next open one
                self._next_pane = max(self._next_pane, min(min(self._open, default=target), target))
        return out

    def _idle(self) -> bool:
        """True when nothing is pending to emit, so empty panes ahead can be skipped."""
        if self.config.rolling:
            return not self._period_has_data
        return not self._panes

    def _reduce(self, index: int) -> _Pane | None:
        pane = self._open.pop(index, None)
        if pane is None:
            return None
        if pane.src:
            # numpy's vectorised sort is ~3× numba's: sort here, the rest of the pane in one kernel
            keys, forest, slots = self._slots.close_pane(
                np.sort(_pair_keys(np.concatenate(pane.src), np.concatenate(pane.dst))))
            return _Pane(index, pane.events, pane.interactions, keys, forest, self._slots.to_global(forest), slots)
        return _Pane(index, pane.events, pane.interactions, np.empty(0, np.int64), empty_forest(), empty_forest(),
                     np.empty(0, np.int32))

    def _pane(self, index: int, events: int, interactions: int, keys: I64, forest: Forest) -> _Pane:
        """A closed pane from a snapshot: its forest given in global ids; its vertices take their slots."""
        verts, inverse = np.unique(np.concatenate(forest), return_inverse=True)
        slots = self._slots.acquire(verts.astype(np.int32, copy=False))
        n = len(forest[0])
        return _Pane(index, events, interactions, keys, (slots[inverse[:n]], slots[inverse[n:]]), forest, slots)

    def _count(self, pane: _Pane, sign: int = 1) -> None:
        """Add (or, with ``sign=-1``, remove) a pane's events, interactions and pairs to the window's counts."""
        self._events += sign * pane.events
        self._interactions += sign * pane.interactions
        self._pairs.update(pane.keys, sign)

    def _close_sliding(self, p: int) -> Window | None:
        while self._panes and self._panes[0].index <= p - self._k:
            gone = self._panes.popleft()
            self._slots.release(gone.slots)
            self._count(gone, -1)
        pane = self._reduce(p)
        if pane is not None:
            self._panes.append(pane)
            self._count(pane)
        if not self._panes:
            return None
        end = (p + 1) * self.config.slide_ms
        panes = self._panes
        eu, ev = np.concatenate([p.forest[0] for p in panes]), np.concatenate([p.forest[1] for p in panes])
        gu, gv = np.concatenate([p.edges[0] for p in panes]), np.concatenate([p.edges[1] for p in panes])
        return self._window(end - self.config.size_ms, end, (eu, ev), (gu, gv))

    def _close_rolling(self, p: int) -> Window | None:
        pane = self._reduce(p)
        if pane is not None:
            if self._rolling_start is None:
                self._rolling_start = (p // self._k) * self.config.size_ms
            self._merge_rolling(pane.forest)
            self._count(pane)
            self._period_has_data = True
        if (p + 1) % self._k or not self._period_has_data or self._rolling_start is None:
            return None
        self._period_has_data = False
        cumulative = self._cumulative
        return self._window(self._rolling_start, (p + 1) * self.config.slide_ms, cumulative,
                            self._slots.to_global(cumulative))

    def _merge_rolling(self, forest: Forest) -> None:
        """Fold a pane forest into the cumulative one. Rolling panes never release their slots: every vertex
        seen stays in the cumulative components. O((|cumulative| + |forest|) α)."""
        s = self._slots
        eu = np.concatenate([self._cumulative[0], forest[0]])
        ev = np.concatenate([self._cumulative[1], forest[1]])
        self._cumulative = spanning_forest(eu, ev, s.sorted_slot, s.parent)

    def _window(self, start: int, end: int, forest: Forest, edges: Forest) -> Window:
        """Summarise the union of ``forest`` (slot ids) — ``edges`` the same in global ids."""
        s = self._slots
        vertices, components, largest, members, offsets, tree_edges, rank_at = window_summary(
            *forest, *edges, s.sorted_gid, s.sorted_slot, s.parent, s.label, s.top, self.config.min_size,
            self.cluster_pairs,
        )
        pairs = pair_offsets = pair_panes = None
        if self.cluster_pairs:
            pairs, pair_offsets, pair_panes = self._pairs.listed(s.sorted_gid, rank_at, len(offsets) - 1)
        return Window(
            start_ms=start,
            end_ms=end,
            events=self._events,
            interactions=self._interactions,
            vertices=vertices,
            edges=len(self._pairs),
            components=components,
            largest=largest,
            late_events=self.late_events,
            members=members,
            offsets=offsets,
            tree_edges=tree_edges,
            pairs=pairs,
            pair_offsets=pair_offsets,
            pair_panes=pair_panes,
        )

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> EngineState:
        """Everything needed to continue exactly where this engine stands, as named flat arrays (global ids).

        Holds the open panes' raw interactions, the closed panes still inside the window (distinct pairs and
        forests), the rolling forest and the watermark. Window outputs depend only on the pane forests and the
        order of global ids, never on slot numbers, so a restored engine emits the very same spanning trees.
        The arrays named in :data:`VERTEX_ARRAYS` hold vertex ids and those in :data:`PAIR_KEY_ARRAYS` pair
        keys, for callers that renumber ids. O(pane edges of the last W/S panes + open panes): a checkpoint is
        as large as one window's state, never the history.
        """
        c = self.config
        panes = list(self._panes)
        opened = sorted(self._open.items())
        open_src = [np.concatenate(p.src) if p.src else np.empty(0, np.int32) for _, p in opened]
        open_dst = [np.concatenate(p.dst) if p.dst else np.empty(0, np.int32) for _, p in opened]
        forests = [p.edges for p in panes]
        rolling = self._slots.to_global(self._cumulative)
        pair_keys, pair_counts = self._pairs.items()
        scalars = [
            self.late_events, self.late_interactions, _opt(self._next_pane), _opt(self._max_time), self._events,
            self._interactions, _opt(self._rolling_start), int(self._period_has_data),
        ]
        return {
            "config": np.array([c.size_ms, c.slide_ms, int(c.rolling), c.lateness_ms, c.min_size], np.int64),
            "scalars": np.array(scalars, np.int64),
            "open_meta": np.array([[i, p.events, p.interactions, len(a)] for (i, p), a in zip(opened, open_src,
                                                                                          strict=True)],
                                  np.int64).reshape(-1, 4),
            "open_src": _cat32(open_src),
            "open_dst": _cat32(open_dst),
            "pane_meta": np.array([[p.index, p.events, p.interactions, len(p.keys), len(p.forest[0])] for p in panes],
                                  np.int64).reshape(-1, 5),
            "pane_keys": np.concatenate([p.keys for p in panes]) if panes else np.empty(0, np.int64),
            "pane_u": _cat32([f[0] for f in forests]),
            "pane_v": _cat32([f[1] for f in forests]),
            # The distinct-pair multiset: in rolling mode it holds every pair ever seen, not only the panes' pairs.
            "pair_keys": pair_keys,
            "pair_counts": pair_counts,
            "rolling_u": rolling[0],
            "rolling_v": rolling[1],
        }

    @classmethod
    def restore(
        cls, config: WindowConfig, state: Mapping[str, np.ndarray], vertices: int = 0, *, cluster_pairs: bool = False
    ) -> WindowEngine:
        """An engine that continues exactly where the one that took ``state`` stood. ``vertices``: a hint of how
        many vertices the window holds (pre-sizes the slots; anything works). Raises ``ValueError`` if ``state``
        was taken under another window configuration. Keys of ``state`` the engine does not know are ignored (a
        checkpoint may carry other stages' arrays, or the two-stacks arrays of an older engine, which the union
        of pane forests does not need). O(size of the state)."""
        engine = cls(config, cluster_pairs=cluster_pairs, capacity=min(max(vertices, 1024), 1 << 20))
        want = [config.size_ms, config.slide_ms, int(config.rolling), config.lateness_ms, config.min_size]
        if [int(x) for x in state["config"]] != want:
            raise ValueError(f"checkpoint taken with window config {state['config'].tolist()}, not {want}")
        (engine.late_events, engine.late_interactions, next_pane, max_time, engine._events, engine._interactions,
         rolling_start, period_has_data) = (int(x) for x in state["scalars"][:8])
        engine._next_pane, engine._max_time = _unopt(next_pane), _unopt(max_time)
        engine._rolling_start, engine._period_has_data = _unopt(rolling_start), bool(period_has_data)
        at = 0
        for index, events, interactions, n in state["open_meta"].tolist():
            pane = engine._open_pane(index)
            pane.events, pane.interactions = events, interactions
            if n:
                pane.src.append(state["open_src"][at : at + n].copy())
                pane.dst.append(state["open_dst"][at : at + n].copy())
            at += n
        keys_at = forest_at = 0
        for index, events, interactions, n_keys, n_forest in state["pane_meta"].tolist():
            keys = state["pane_keys"][keys_at : keys_at + n_keys].copy()
            forest = (state["pane_u"][forest_at : forest_at + n_forest].astype(np.int32),
                      state["pane_v"][forest_at : forest_at + n_forest].astype(np.int32))
            keys_at, forest_at = keys_at + n_keys, forest_at + n_forest
            engine._panes.append(engine._pane(index, events, interactions, keys, forest))
        engine._pairs.update(np.repeat(state["pair_keys"], state["pair_counts"]), 1)
        if len(state["rolling_u"]):
            rolling = engine._pane(0, 0, 0, np.empty(0, np.int64),
                                   (state["rolling_u"].astype(np.int32), state["rolling_v"].astype(np.int32)))
            engine._cumulative = rolling.forest
        return engine


#: Snapshot arrays that hold vertex ids, and those that hold pair keys ``(low << 32) | high``: what a caller
#: renumbering ids (a compacted checkpoint) must rewrite.
VERTEX_ARRAYS = ("open_src", "open_dst", "pane_u", "pane_v", "rolling_u", "rolling_v")
PAIR_KEY_ARRAYS = ("pane_keys", "pair_keys")


def _opt(value: int | None) -> int:
    return _NONE if value is None else value


def _unopt(value: int) -> int | None:
    return None if value == _NONE else value


def _cat32(arrays: Sequence[np.ndarray]) -> IdArray:
    return np.concatenate(arrays).astype(np.int32, copy=False) if len(arrays) else np.empty(0, np.int32)


def renumber(
    arrays: Mapping[str, np.ndarray], vertex_keys: Sequence[str], pair_keys: Sequence[str] = PAIR_KEY_ARRAYS
) -> tuple[dict[str, np.ndarray], IdArray]:
    """``arrays`` with every vertex id in the arrays named ``vertex_keys`` (and both ids of every pair key in
    ``pair_keys``) renumbered ``0..n-1`` in their old order; returns the new arrays and the old ids, ascending.
    Every output of the engine depends on ids only through their order (sorted members, ties by smallest id,
    pair keys), so an engine restored from the result emits exactly the windows the original would — and a
    checkpoint names only the accounts it holds. O(S log S) for S ids."""
    used = [arrays[k].astype(np.int64) for k in vertex_keys]
    used += [arrays[k] >> 32 for k in pair_keys] + [arrays[k] & _LOW for k in pair_keys]
    keep = np.unique(np.concatenate(used)) if used else np.empty(0, np.int64)

    def remap(a: np.ndarray) -> np.ndarray:
        return np.searchsorted(keep, a)

    out = dict(arrays)
    for k in vertex_keys:
        out[k] = remap(arrays[k]).astype(arrays[k].dtype)
    for k in pair_keys:
        out[k] = (remap(arrays[k] >> 32) << 32) | remap(arrays[k] & _LOW)
    return out, keep.astype(np.int32)


_LOW = np.int64(0xFFFFFFFF)
