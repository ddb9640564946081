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

from collections import deque
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
    """

    def __init__(self, config: WindowConfig) -> None:
        if config.slide_ms <= 0 or config.size_ms <= 0:
            raise ValueError("window size and slide must be positive")
        if config.size_ms % config.slide_ms:
            raise ValueError("window size must be a multiple of the slide")
        self.config = config
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
        )

