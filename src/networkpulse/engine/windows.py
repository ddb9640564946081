"""Event-time windows over the interaction stream: panes, watermark, lateness, two-stacks aggregation.

Time is cut into *panes* of length ``slide``. A pane's interactions are reduced once, when the pane closes, to
its distinct pairs and a spanning forest. A sliding window of ``size = k · slide`` is the union of its k pane
forests, kept by a two-stacks sliding aggregation: each slide costs O(1) amortised forest merges, so an edge is
folded a constant number of times instead of once per window containing it (the 2016 system's W/S).

Watermark: ``max event time seen − lateness``; it advances between ``add`` calls (batches), so within one batch
order does not matter. A pane ``[p·S, (p+1)·S)`` closes when the watermark reaches its end; events that arrive
for a closed pane are late: counted, not applied.

Emitted windows are aligned to ``slide`` and only those holding at least one event are emitted (a gap of years
between two files costs nothing). This module is pure: no I/O, no clock, no other pipeline stage.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from networkpulse.engine.forest import (
    PairCounter,
    empty_forest,
    merge_forests,
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
    keys: I64  # distinct undirected pairs, (low << 32) | high
    forest: Forest


class _Scratch:
    """Union-find scratch arrays indexed by global vertex id, grown geometrically as ids appear."""

    def __init__(self) -> None:
        self.parent = np.arange(1024, dtype=np.int32)
        self.count = np.zeros(1024, dtype=np.int32)
        self.slot = np.zeros(1024, dtype=np.int32)

    def ensure(self, n: int) -> None:
        if n > self.parent.shape[0]:
            size = max(n, 2 * self.parent.shape[0])
            self.parent = np.arange(size, dtype=np.int32)
            self.count = np.zeros(size, dtype=np.int32)
            self.slot = np.zeros(size, dtype=np.int32)


class _TwoStacks:
    """Sliding union of pane forests (FIFO push/pop). The front stack holds suffix unions, rebuilt from the
    back panes when it runs empty (O(window) every k pops); the back is a plain list whose forests the caller
    unions with the front's top at query time, which saves re-merging a growing back union on every push.
    Amortised O(1) forest merges per slide."""

    def __init__(self, scratch: _Scratch) -> None:
        self._scratch = scratch
        self._front: list[Forest] = []  # suffix unions; front[-1] covers every pane in the front stack
        self._back: list[Forest] = []

    def push(self, forest: Forest) -> None:
        self._back.append(forest)

    def pop(self) -> None:
        if not self._front:
            union = empty_forest()
            for forest in reversed(self._back):
                union = merge_forests(forest[0], forest[1], union[0], union[1], self._scratch.parent)
                self._front.append(union)
            self._back.clear()
        self._front.pop()

    @property
    def front(self) -> list[Forest]:
        return self._front

    @property
    def back_size(self) -> int:
        return len(self._back)

    def restore(self, front: list[Forest], back: list[Forest]) -> None:
        self._front, self._back = front, back

    def query(self) -> tuple[Forest, Forest]:
        """Two edge sets whose union spans the window: the front's top forest and the back panes' edges."""
        top = self._front[-1] if self._front else empty_forest()
        if len(self._back) <= 1:
            return top, (self._back[0] if self._back else empty_forest())
        return top, (np.concatenate([f[0] for f in self._back]), np.concatenate([f[1] for f in self._back]))


def _pair_keys(src: IdArray, dst: IdArray) -> I64:
    low = np.minimum(src, dst).astype(np.int64)
    high = np.maximum(src, dst).astype(np.int64)
    return (low << 32) | high


class WindowEngine:
    """Feed ``add`` with batches of interned interactions; get back the windows that closed.

    Per batch: O(n log n) for n interactions (grouping by pane); per closed pane: O(m log m) dedupe of its m
    interactions plus an O(m α) forest; per emitted window: O(V) for the V vertices of the window.

    ``cluster_pairs``: also emit each listed cluster's distinct pairs (``Window.pairs``), for the analytics
    stage; adds O(pair table capacity + Q log Q) per window for the Q pairs inside listed clusters, and changes
    nothing else the engine emits or keeps.
    """

    def __init__(self, config: WindowConfig, *, cluster_pairs: bool = False) -> None:
        if config.slide_ms <= 0 or config.size_ms <= 0:
            raise ValueError("window size and slide must be positive")
        if config.size_ms % config.slide_ms:
            raise ValueError("window size must be a multiple of the slide")
        self.config = config
        self.cluster_pairs = cluster_pairs
        self.late_events = 0
        self.late_interactions = 0
        self._k = config.size_ms // config.slide_ms
        self._scratch = _Scratch()
        self._open: dict[int, _OpenPane] = {}
        self._next_pane: int | None = None  # every pane below this one is closed
        self._max_time: int | None = None
        self._pairs = PairCounter()
        self._events = 0
        self._interactions = 0
        # sliding state
        self._panes: deque[_Pane] = deque()
        self._stacks = _TwoStacks(self._scratch)
        # rolling state
        self._cumulative: Forest = empty_forest()
        self._rolling_start: int | None = None
        self._period_has_data = False

    # ------------------------------------------------------------------ input

    def add(self, src: IdArray, dst: IdArray, times_ms: I64, event_times_ms: I64) -> list[Window]:
        """Add one batch: interactions ``(src[i], dst[i])`` at ``times_ms[i]``, and the times of every event of
        the batch (kept or filtered). Returns the windows closed by the watermark after this batch."""
        slide = self.config.slide_ms
        if len(src):
            self._scratch.ensure(int(max(src.max(), dst.max())) + 1)
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
            keys = np.sort(_pair_keys(np.concatenate(pane.src), np.concatenate(pane.dst)))
            keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # distinct; ~3× faster than np.unique here
            u = (keys >> 32).astype(np.int32)
            v = (keys & 0xFFFFFFFF).astype(np.int32)
            forest = spanning_forest(u, v, self._scratch.parent)
        else:
            keys = np.empty(0, np.int64)
            forest = empty_forest()
        return _Pane(index, pane.events, pane.interactions, keys, forest)

    def _count(self, pane: _Pane, sign: int = 1) -> None:
        """Add (or, with ``sign=-1``, remove) a pane's events, interactions and pairs to the window's counts."""
        self._events += sign * pane.events
        self._interactions += sign * pane.interactions
        self._pairs.update(pane.keys, sign)

    def _close_sliding(self, p: int) -> Window | None:
        while self._panes and self._panes[0].index <= p - self._k:
            self._stacks.pop()
            self._count(self._panes.popleft(), -1)
        pane = self._reduce(p)
        if pane is not None:
            self._panes.append(pane)
            self._stacks.push(pane.forest)
            self._count(pane)
        if not self._panes:
            return None
        end = (p + 1) * self.config.slide_ms
        return self._window(end - self.config.size_ms, end, *self._stacks.query())

    def _close_rolling(self, p: int) -> Window | None:
        pane = self._reduce(p)
        if pane is not None:
            if self._rolling_start is None:
                self._rolling_start = (p // self._k) * self.config.size_ms
            self._cumulative = merge_forests(
                self._cumulative[0], self._cumulative[1], pane.forest[0], pane.forest[1], self._scratch.parent
            )
            self._count(pane)
            self._period_has_data = True
        if (p + 1) % self._k or not self._period_has_data or self._rolling_start is None:
            return None
        self._period_has_data = False
        return self._window(self._rolling_start, (p + 1) * self.config.slide_ms, self._cumulative, empty_forest())

    def _window(self, start: int, end: int, a: Forest, b: Forest) -> Window:
        s = self._scratch
        vertices, components, largest, members, offsets, tree_edges = window_summary(
            a, b, s.parent, s.count, s.slot, self.config.min_size
        )
        pairs = pair_offsets = pair_panes = None
        if self.cluster_pairs:
            pairs, pair_offsets, pair_panes = self._pairs.listed(members, offsets, s.slot)
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
        """Everything needed to continue exactly where this engine stands, as named flat arrays.

        Holds the open panes' raw interactions, the closed panes still inside the window (distinct pairs and
        forests), the two-stacks' suffix unions (so a restored engine emits the very same spanning trees, not
        merely the same components), the rolling forest and the watermark. O(pane edges of the last W/S panes
        + open panes): a checkpoint is as large as one window's state, never the history.
        """
        c = self.config
        panes = list(self._panes)
        opened = sorted(self._open.items())
        open_src = [np.concatenate(p.src) if p.src else np.empty(0, np.int32) for _, p in opened]
        open_dst = [np.concatenate(p.dst) if p.dst else np.empty(0, np.int32) for _, p in opened]
        front = self._stacks.front
        pair_keys, pair_counts = self._pairs.items()
        scalars = [
            self.late_events, self.late_interactions, _opt(self._next_pane), _opt(self._max_time), self._events,
            self._interactions, _opt(self._rolling_start), int(self._period_has_data), self._stacks.back_size,
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
            "pane_u": _cat32([p.forest[0] for p in panes]),
            "pane_v": _cat32([p.forest[1] for p in panes]),
            "front_len": np.array([len(f[0]) for f in front], np.int64),
            "front_u": _cat32([f[0] for f in front]),
            "front_v": _cat32([f[1] for f in front]),
            # The distinct-pair multiset: in rolling mode it holds every pair ever seen, not only the panes' pairs.
            "pair_keys": pair_keys,
            "pair_counts": pair_counts,
            "rolling_u": self._cumulative[0],
            "rolling_v": self._cumulative[1],
        }

    @classmethod
    def restore(
        cls, config: WindowConfig, state: Mapping[str, np.ndarray], vertices: int, *, cluster_pairs: bool = False
    ) -> WindowEngine:
        """An engine that continues exactly where the one that took ``state`` stood. ``vertices``: the number
        of interned ids (sizes the scratch). Raises ``ValueError`` if ``state`` was taken under another window
        configuration. Keys of ``state`` the engine does not know are ignored (a checkpoint may carry other
        stages' arrays). O(size of the state)."""
        engine = cls(config, cluster_pairs=cluster_pairs)
        want = [config.size_ms, config.slide_ms, int(config.rolling), config.lateness_ms, config.min_size]
        if [int(x) for x in state["config"]] != want:
            raise ValueError(f"checkpoint taken with window config {state['config'].tolist()}, not {want}")
        (engine.late_events, engine.late_interactions, next_pane, max_time, engine._events, engine._interactions,
         rolling_start, period_has_data, back_size) = (int(x) for x in state["scalars"])
        engine._next_pane, engine._max_time = _unopt(next_pane), _unopt(max_time)
        engine._rolling_start, engine._period_has_data = _unopt(rolling_start), bool(period_has_data)
        engine._scratch.ensure(vertices)
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
            forest = (state["pane_u"][forest_at : forest_at + n_forest].copy(),
                      state["pane_v"][forest_at : forest_at + n_forest].copy())
            keys_at, forest_at = keys_at + n_keys, forest_at + n_forest
            pane = _Pane(index, events, interactions, keys, forest)
            engine._panes.append(pane)
        engine._pairs.update(np.repeat(state["pair_keys"], state["pair_counts"]), 1)
        bounds = np.r_[0, np.cumsum(state["front_len"])].tolist()
        front = [(state["front_u"][lo:hi].copy(), state["front_v"][lo:hi].copy())
                 for lo, hi in itertools.pairwise(bounds)]
        back = [p.forest for p in list(engine._panes)[len(engine._panes) - back_size:]] if back_size else []
        engine._stacks.restore(front, back)
        engine._cumulative = (state["rolling_u"].copy(), state["rolling_v"].copy())
        return engine


def _opt(value: int | None) -> int:
    return _NONE if value is None else value


def _unopt(value: int) -> int | None:
    return None if value == _NONE else value


def _cat32(arrays: Sequence[np.ndarray]) -> IdArray:
    return np.concatenate(arrays).astype(np.int32, copy=False) if len(arrays) else np.empty(0, np.int32)
