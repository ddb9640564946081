"""Forest workers' reduction: one origin's interaction batches → per-pane distinct pairs with multiplicities.

A pane is ``[p·S, (p+1)·S)`` for the window slide ``S``, as in :mod:`networkpulse.engine.windows`. Workers share
nothing (no interner), so a part names accounts by login: a table of the distinct logins of the batches (first
spelling kept, compared case-insensitively like :class:`~networkpulse.engine.interning.Interner`) and the pairs
as indices into it. What a worker saves the merger: the Avro decode, the strings and the pane grouping and
deduplication of every interaction (a pair seen ``m`` times in a pane travels once, with ``m``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from networkpulse.venturi.types import InteractionBatch

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
NO_TIME = -(2**62)


def _i64() -> I64:
    return np.empty(0, np.int64)


def _i32() -> I32:
    return np.empty(0, np.int32)


@dataclass(slots=True)
class PaneParts:
    """What one origin (a raw-topic partition: one ordered stream) contributed to panes, in one message.

    Part ``i`` is pane ``pane[i]``: ``events[i]`` events (kept or filtered), ``interactions[i]`` interactions,
    and ``pairs[i]`` distinct undirected pairs, stored consecutively in ``src``/``dst`` (indices into
    ``logins``, ``src < dst``, sorted) with ``mult`` interactions each. ``max_time_ms``: the newest event time of
    the batches (the origin's watermark moves to it); ``origins``: how many origins exist (the raw topic's
    partitions); ``slide_ms``: the pane length they were cut by.
    """

    origin: int
    origins: int
    slide_ms: int = 0
    max_time_ms: int = NO_TIME
    logins: list[str] = field(default_factory=list)
    pane: I64 = field(default_factory=_i64)
    events: I64 = field(default_factory=_i64)
    interactions: I64 = field(default_factory=_i64)
    pairs: I64 = field(default_factory=_i64)
    src: I32 = field(default_factory=_i32)
    dst: I32 = field(default_factory=_i32)
    mult: I32 = field(default_factory=_i32)

    def parts(self) -> list[tuple[int, int, int, slice]]:
        """``(pane, events, interactions, pair slice)`` per part. O(parts)."""
        ends = np.cumsum(self.pairs).tolist()
        starts = [0, *ends[:-1]]
        return [
            (p, e, i, slice(lo, hi))
            for p, e, i, lo, hi in zip(self.pane.tolist(), self.events.tolist(), self.interactions.tolist(), starts,
                                       ends, strict=True)
        ]


def reduce_panes(batches: Sequence[InteractionBatch], slide_ms: int, origin: int, origins: int) -> PaneParts:
    """Reduce ``batches`` (all from ``origin``) to :class:`PaneParts`. O(n log n) for n interactions, plus one
    dict lookup per login (the only Python loop)."""
    if slide_ms <= 0:
        raise ValueError("slide must be positive")
    out = PaneParts(origin, origins, slide_ms)
    event_times = np.concatenate([b.event_times_ms for b in batches]) if batches else _i64()
    times = np.concatenate([b.created_at_ms for b in batches]) if batches else _i64()
    if len(event_times) or len(times):
        out.max_time_ms = int(max(event_times.max(initial=NO_TIME), times.max(initial=NO_TIME)))
    index: dict[str, int] = {}
    ids: list[int] = []
    for batch in batches:
        for column in (batch.src, batch.dst):
            for login in column:
                key = login.lower()
                at = index.get(key)
                if at is None:
                    at = index[key] = len(out.logins)
                    out.logins.append(login)
                ids.append(at)
    n = len(times)
    if len(ids) != 2 * n:
        raise ValueError("an interaction batch's columns differ in length")
    # Per batch the src column comes first, then dst: rebuild both sides of every row.
    src_ids = np.empty(n, np.int64)
    dst_ids = np.empty(n, np.int64)
    flat = np.asarray(ids, np.int64)
    at = row = 0
    for batch in batches:
        m = len(batch)
        src_ids[row : row + m] = flat[at : at + m]
        dst_ids[row : row + m] = flat[at + m : at + 2 * m]
        at, row = at + 2 * m, row + m
    low, high = np.minimum(src_ids, dst_ids), np.maximum(src_ids, dst_ids)
    panes = times // slide_ms
    # One sort by (pane, low, high) groups rows per pane and per pair.
    order = np.lexsort((high, low, panes))
    panes, low, high = panes[order], low[order], high[order]
    new = np.r_[True, (panes[1:] != panes[:-1]) | (low[1:] != low[:-1]) | (high[1:] != high[:-1])] if n else \
        np.empty(0, np.bool_)
    starts = np.flatnonzero(new)
    mult = np.diff(np.r_[starts, n]).astype(np.int32)
    pair_pane = panes[starts]
    out.src, out.dst, out.mult = low[starts].astype(np.int32), high[starts].astype(np.int32), mult
    event_pane, event_count = np.unique(event_times // slide_ms, return_counts=True)
    pane_ids = np.union1d(event_pane, pair_pane)
    out.pane = pane_ids.astype(np.int64)
    out.events = np.zeros(len(pane_ids), np.int64)
    out.events[np.searchsorted(pane_ids, event_pane)] = event_count
    rows_per_pane = np.zeros(len(pane_ids), np.int64)
    np.add.at(rows_per_pane, np.searchsorted(pane_ids, panes), 1)
    out.interactions = rows_per_pane
    pairs_per_pane = np.zeros(len(pane_ids), np.int64)
    np.add.at(pairs_per_pane, np.searchsorted(pane_ids, pair_pane), 1)
    out.pairs = pairs_per_pane
    return out
