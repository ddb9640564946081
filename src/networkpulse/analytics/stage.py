"""The analytics stage: engine windows in, per-window annotations out (identity, lineage, brokers, momentum).

Pure and functional: :func:`annotate` takes a state and windows and returns a *new* state and the annotations,
so a caller can annotate windows it may later replace (the provisional tail of a run) without committing the
state. The state is as small as one window's clusters plus a few numbers per live cluster, and round-trips
through named arrays (:meth:`AnalyticsState.to_arrays`) so it rides in the store's checkpoint with the engine's
and a resumed run continues exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from networkpulse.analytics.brokers import cuts, graph, positions
from networkpulse.analytics.lineage import Clusters, Match, match
from networkpulse.analytics.momentum import momentum
from networkpulse.engine.types import Window

I64 = npt.NDArray[np.int64]
PREFIX = "analytics."


@dataclass(frozen=True, slots=True)
class AnalyticsConfig:
    """``min_share``: the identity threshold (see :mod:`networkpulse.analytics.lineage`). ``momentum_windows``
    and ``trend_band``: see :mod:`networkpulse.analytics.momentum`. ``step_ms``: the time between two consecutive
    windows (the slide; the window size when rolling); when the engine skipped windows with no event between two
    it emitted, every cluster ended in the gap. None: every emitted window follows the previous one."""

    min_share: float = 0.5
    momentum_windows: int = 5
    trend_band: float = 0.05
    step_ms: int | None = None


@dataclass(frozen=True, slots=True)
class WindowAnalytics:
    """Annotations of one window, in its clusters' rank order.

    ``lineage``: ids, events, parents and ended clusters (:class:`~networkpulse.analytics.lineage.Match`).
    ``activity``/``slope``/``trend``: momentum per cluster. With the window's pairs (else None): ``edges`` the
    distinct pairs as member *positions* in ``Window.members`` (cluster ``r``'s are
    ``edges[edge_offsets[r]:edge_offsets[r + 1]]``), ``edge_panes`` their pane counts, ``articulation`` one
    flag per member position, ``bridges`` as position pairs grouped by ``bridge_offsets``."""

    start_ms: int
    end_ms: int
    lineage: Match
    activity: I64
    slope: npt.NDArray[np.float64]
    trend: npt.NDArray[np.int8]
    edges: I64 | None = None
    edge_offsets: I64 | None = None
    edge_panes: npt.NDArray[np.int32] | None = None
    articulation: npt.NDArray[np.uint8] | None = None
    bridges: I64 | None = None
    bridge_offsets: I64 | None = None


@dataclass(frozen=True, slots=True)
class AnalyticsState:
    """Where the stage stands: the last window's clusters with their ids (in the caller's vertex ids), the next
    fresh id, the recent activity of every live cluster, the last window's end."""

    clusters: Clusters = field(default_factory=Clusters.empty)
    next_id: int = 1
    history: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    last_end_ms: int | None = None

    def to_arrays(self, prefix: str = PREFIX) -> dict[str, np.ndarray]:
        """Named flat arrays (for a checkpoint). O(members + history)."""
        ids = np.fromiter(self.history, np.int64, len(self.history))
        lens = np.fromiter((len(v) for v in self.history.values()), np.int64, len(self.history))
        vals = np.fromiter((x for v in self.history.values() for x in v), np.int64, int(lens.sum()))
        scalars = [self.next_id, -1 if self.last_end_ms is None else self.last_end_ms,
                   int(self.last_end_ms is not None)]
        return {
            f"{prefix}scalars": np.array(scalars, np.int64),
            f"{prefix}ids": self.clusters.ids,
            f"{prefix}members": self.clusters.members,
            f"{prefix}offsets": self.clusters.offsets,
            f"{prefix}history_ids": ids,
            f"{prefix}history_lens": lens,
            f"{prefix}history": vals,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = PREFIX) -> AnalyticsState | None:
        """The state :meth:`to_arrays` saved, or None when ``arrays`` holds none (an older checkpoint)."""
        if f"{prefix}scalars" not in arrays:
            return None
        next_id, last_end, has_end = (int(x) for x in arrays[f"{prefix}scalars"])
        lens = arrays[f"{prefix}history_lens"].tolist()
        vals = arrays[f"{prefix}history"].tolist()
        bounds = np.r_[0, np.cumsum(lens, dtype=np.int64)].tolist()
        history = {int(i): tuple(vals[bounds[k] : bounds[k + 1]])
                   for k, i in enumerate(arrays[f"{prefix}history_ids"].tolist())}
        clusters = Clusters(arrays[f"{prefix}ids"].astype(np.int64), arrays[f"{prefix}members"].astype(np.int32),
                            arrays[f"{prefix}offsets"].astype(np.int64))
        return cls(clusters, next_id, history, last_end if has_end else None)


def annotate(
    state: AnalyticsState, windows: Sequence[Window], config: AnalyticsConfig = AnalyticsConfig()
) -> tuple[AnalyticsState, list[WindowAnalytics]]:
    """Annotate ``windows`` (in emission order) following ``state``; returns the state after the last one and
    one :class:`WindowAnalytics` per window. ``state`` itself is never changed.

    Per window: O(M log M) lineage for its M listed members, O(Q log Q) for its Q cluster pairs (articulation
    points and bridges in one O(V + E) search), O(clusters × momentum_windows) momentum.
    """
    brokers = _brokers([w for w in windows if w.pairs is not None])
    lineages, activities, series = [], [], []
    top = max([int(w.members.max(initial=-1)) for w in windows] + [int(state.clusters.members.max(initial=-1))])
    label = np.zeros(top + 1, np.int64)  # match's scratch, shared by the batch
    for w in windows:
        prev = state.clusters
        last = state.last_end_ms
        if config.step_ms is not None and last is not None and w.end_ms - last > config.step_ms:
            # Windows without events were skipped: every previous cluster died in the gap, into nothing.
            fresh = match(Clusters.empty(), w.members, w.offsets, state.next_id, config.min_share, label)
            lineage = Match(fresh.ids, fresh.events, fresh.parents, fresh.parent_offsets, prev.ids,
                            np.empty(0, np.int64), np.zeros(len(prev.ids) + 1, np.int64), fresh.next_id)
        else:
            lineage = match(prev, w.members, w.offsets, state.next_id, config.min_share, label)
        extra = brokers.get(id(w))
        activity = extra.pop("activity") if extra else np.diff(w.offsets).astype(np.int64)
        keep, past = config.momentum_windows, state.history
        history = {cid: (*past.get(cid, ()), a)[-keep:]
                   for cid, a in zip(lineage.ids.tolist(), activity.tolist(), strict=True)}
        lineages.append(lineage)
        activities.append(activity)
        series += history.values()
        state = AnalyticsState(Clusters(lineage.ids, w.members, w.offsets), lineage.next_id, history, w.end_ms)
    # Momentum of every cluster of the batch in one vectorised call (numpy per window cost more than the math).
    slopes, trends = momentum(series, config.trend_band)
    out, at = [], 0
    for w, lineage, activity in zip(windows, lineages, activities, strict=True):
        n = w.n_clusters
        out.append(WindowAnalytics(w.start_ms, w.end_ms, lineage, activity, slopes[at : at + n], trends[at : at + n],
                                   **brokers.get(id(w), {})))
        at += n
    return state, out


def _brokers(windows: Sequence[Window]) -> dict[int, dict[str, np.ndarray]]:
    """Pair positions, activity, articulation points and bridges of every cluster of ``windows`` (all with
    pairs), computed over the whole batch at once — clusters of different windows are just more components —
    then sliced per window (keyed by ``id(window)``). O(M + Q log Q) for the batch's members and pairs."""
    if not windows:
        return {}
    n_members = np.array([len(w.members) for w in windows], np.int64)
    n_clusters = np.array([w.n_clusters for w in windows], np.int64)
    n_pairs = np.array([len(w.pairs) for w in windows if w.pairs is not None], np.int64)
    m0 = np.r_[0, np.cumsum(n_members)]
    c0 = np.r_[0, np.cumsum(n_clusters)]
    p0 = np.r_[0, np.cumsum(n_pairs)]
    members = np.concatenate([w.members for w in windows])
    offsets = np.r_[np.concatenate([w.offsets[:-1] + m0[k] for k, w in enumerate(windows)]), m0[-1]]
    pairs = np.concatenate([w.pairs for w in windows if w.pairs is not None]).reshape(-1, 2)
    pair_offsets = np.r_[np.concatenate([w.pair_offsets[:-1] + p0[k] for k, w in enumerate(windows)
                                         if w.pair_offsets is not None]), p0[-1]]
    panes = np.concatenate([w.pair_panes for w in windows if w.pair_panes is not None])
    edges = positions(members, offsets.astype(np.int64), pairs, pair_offsets.astype(np.int64))
    c = cuts(graph(offsets.astype(np.int64), edges))
    owner = np.repeat(np.arange(int(c0[-1]), dtype=np.int64), np.diff(pair_offsets))
    activity = np.bincount(owner, weights=panes, minlength=int(c0[-1])).astype(np.int64)
    out = {}
    for k, w in enumerate(windows):
        b0, b1 = c.bridge_offsets[c0[k]], c.bridge_offsets[c0[k + 1]]
        out[id(w)] = {
            "edges": edges[p0[k] : p0[k + 1]] - m0[k], "edge_offsets": w.pair_offsets, "edge_panes": w.pair_panes,
            "articulation": c.articulation[m0[k] : m0[k + 1]], "bridges": c.bridges[b0:b1] - m0[k],
            "bridge_offsets": c.bridge_offsets[c0[k] : c0[k + 1] + 1] - b0, "activity": activity[c0[k] : c0[k + 1]],
        }
    return out
