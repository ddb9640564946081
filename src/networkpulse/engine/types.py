"""Value types the engine emits: one :class:`Window` per closed event-time window.

Vertex ids are the dense ``int32`` ids of :class:`networkpulse.engine.interning.Interner`; the store maps them
back to logins.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """How events are grouped in time.

    ``size_ms``/``slide_ms``: sliding, non-rolling windows ``[start, start + size)`` every ``slide``
    (``size`` must be a multiple of ``slide``). ``rolling``: cumulative components of everything seen so far,
    emitted every ``size`` (tumbling). ``lateness_ms``: the watermark trails the largest event time by this much;
    events behind the watermark's closed panes are late. ``min_size``: clusters smaller than this are counted
    but not listed with members.
    """

    size_ms: int = 10 * 60_000
    slide_ms: int = 60_000
    rolling: bool = False
    lateness_ms: int = 0
    min_size: int = 3


@dataclass(frozen=True, slots=True)
class Cluster:
    """One connected component: its members (sorted vertex ids) and a spanning tree of real interactions.

    ``edges`` has shape ``(len(members) - 1, 2)``: each row is an interaction seen in the window, and together
    they connect every member — enough to draw the cluster.
    """

    members: IdArray
    edges: npt.NDArray[np.int32]

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True, slots=True)
class Window:
    """Everything the engine knows about one closed window ``[start_ms, end_ms)``.

    ``events``: raw events with a valid time in the window (kept or filtered). ``interactions``: interaction
    records in it. ``edges``: distinct undirected account pairs among them. ``vertices``: accounts with at least
    one interaction. ``components``: connected components of that graph (all sizes, so every vertex is in one).
    ``largest``: size of the largest component. ``late_events``: events dropped as late so far (cumulative).

    The components of size >= ``min_size`` (largest first, ties: smallest member id first) are kept columnar,
    because a busy window has hundreds: cluster ``i`` has members ``members[offsets[i]:offsets[i + 1]]``
    (sorted) and tree edges ``tree_edges[offsets[i] - i:offsets[i + 1] - i - 1]`` (size - 1 rows).
    ``clusters`` gives the same as :class:`Cluster` objects.

    With ``WindowEngine(..., cluster_pairs=True)`` the window also carries every distinct interaction pair inside
    its listed clusters (not only the spanning trees), for the analytics stage: cluster ``i`` holds
    ``pairs[pair_offsets[i]:pair_offsets[i + 1]]`` (rows ``(low, high)`` vertex ids, sorted), and
    ``pair_panes[j]`` says in how many panes (slides) of the window pair ``j`` interacted. ``None`` otherwise.
    """

    start_ms: int
    end_ms: int
    events: int
    interactions: int
    vertices: int
    edges: int
    components: int
    largest: int
    late_events: int
    members: IdArray
    offsets: npt.NDArray[np.int64]
    tree_edges: npt.NDArray[np.int32]
    pairs: npt.NDArray[np.int32] | None = None
    pair_offsets: npt.NDArray[np.int64] | None = None
    pair_panes: npt.NDArray[np.int32] | None = None

    @classmethod
    def from_clusters(cls, *, clusters: Sequence[Cluster], **counts: int) -> Window:
        """Build a window from :class:`Cluster` objects (tests, tools); the engine fills the columns directly."""
        members = np.concatenate([c.members for c in clusters]).astype(np.int32) if clusters else np.empty(0, np.int32)
        edges = [np.asarray(c.edges, np.int32).reshape(-1, 2) for c in clusters]
        tree_edges = np.concatenate(edges) if edges else np.empty((0, 2), np.int32)
        offsets = np.r_[0, np.cumsum([c.size for c in clusters])].astype(np.int64)
        return cls(members=members, offsets=offsets, tree_edges=tree_edges, **counts)

    @property
    def n_clusters(self) -> int:
        return len(self.offsets) - 1

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        """Cluster views (no copy). O(number of clusters)."""
        bounds = self.offsets.tolist()
        return tuple(
            Cluster(self.members[lo:hi], self.tree_edges[lo - i : hi - i - 1])
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
        )
