"""Who holds a cluster together: articulation points, bridges, degree and betweenness, from the window's real
distinct interaction pairs inside each cluster (not the spanning tree, whose every inner vertex would look like
a cut vertex).

Why these: the 2016 system proposed min-cut / max-flow to find influencers. The exact notion behind it is the
*minimum vertex cut*: the fewest accounts whose departure disconnects the cluster. Its size-1 case is exactly an
articulation point, found for every cluster of a window in one O(V + E) depth-first search (Hopcroft–Tarjan),
and a bridge is the size-1 edge cut. On these graphs (sparse, almost forests: a giant of ~170 accounts, then
tens of small clusters) most clusters have vertex connectivity 1, so the size-1 cuts *are* the minimum cuts,
while a general minimum vertex cut costs a max-flow per vertex pair. Betweenness (Brandes, exact, O(V·E) per
cluster) ranks the brokers beyond the cut vertices: the share of shortest paths between other members that pass
through an account.

All kernels take a window's clusters in the engine's columnar layout, with *positions* (indices into the
window's ``members`` array) as vertex names, so one call serves every cluster of a window and no Python runs per
cluster or edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]

#: Betweenness is computed for clusters up to this many members (O(V·E) each); larger ones get NaN.
BETWEENNESS_LIMIT = 5_000


@dataclass(frozen=True, slots=True)
class Graph:
    """The pairs of a window's clusters over member positions, as CSR: the neighbours of position ``p`` are
    ``indices[indptr[p]:indptr[p + 1]]``. ``edges`` (Q, 2) are the pairs as positions, cluster by cluster."""

    offsets: I64
    edges: I64
    indptr: I64
    indices: I64

    @property
    def degree(self) -> I64:
        return np.diff(self.indptr)


def positions(members: npt.NDArray[np.int32], offsets: I64, pairs: npt.NDArray[np.int32], pair_offsets: I64) -> I64:
    """Pairs of vertex ids → pairs of member positions, vectorised over the window: (cluster, id) keys are sorted
    because members are sorted inside each cluster, so one ``searchsorted`` resolves every endpoint.
    Raises ``ValueError`` if an endpoint is not a member of its cluster. O(Q log M)."""
    sizes = np.diff(offsets)
    n_pairs = np.diff(pair_offsets)
    keys = (np.repeat(np.arange(len(sizes), dtype=np.int64), sizes) << 32) | members.astype(np.int64)
    ranks = np.repeat(np.arange(len(sizes), dtype=np.int64), n_pairs)[:, None]
    want = (ranks << 32) | pairs.astype(np.int64).reshape(-1, 2)
    pos = np.searchsorted(keys, want)
    if want.size and (not keys.size or not np.array_equal(keys[np.minimum(pos, len(keys) - 1)], want)):
        raise ValueError("a cluster pair joins an account that is not a member of that cluster")
    return pos.reshape(-1, 2)


def graph(offsets: I64, edges: I64) -> Graph:
    """CSR adjacency of position pairs ``edges`` over ``offsets[-1]`` positions. O(Q log Q)."""
    n = int(offsets[-1])
    ends = np.concatenate((edges[:, 0], edges[:, 1]))
    other = np.concatenate((edges[:, 1], edges[:, 0]))
    order = np.lexsort((other, ends))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=indptr[1:])
    return Graph(offsets, edges, indptr, other[order].astype(np.int64))


@njit(cache=True)
def _cuts(indptr: np.ndarray, indices: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Iterative Hopcroft–Tarjan DFS from each cluster's first position: articulation flags and bridges
    (parent, child). O(V + E); no recursion, so a giant cluster cannot overflow a stack."""
    n = indptr.shape[0] - 1
    disc = np.full(n, -1, np.int64)
    low = np.zeros(n, np.int64)
    parent = np.full(n, -1, np.int64)
    nxt = np.zeros(n, np.int64)
    kids = np.zeros(n, np.int64)
    art = np.zeros(n, np.uint8)
    bu = np.empty(n, np.int64)
    bv = np.empty(n, np.int64)
    stack = np.empty(n, np.int64)
    nb = 0
    t = 0
    for s in starts:
        if s >= n or disc[s] != -1:
            continue
        sp = 0
        stack[0] = s
        disc[s] = t
        low[s] = t
        t += 1
        nxt[s] = indptr[s]
        while sp >= 0:
            v = stack[sp]
            if nxt[v] < indptr[v + 1]:
                w = indices[nxt[v]]
                nxt[v] += 1
                if disc[w] == -1:
                    parent[w] = v
                    kids[v] += 1
                    disc[w] = t
                    low[w] = t
                    t += 1
                    nxt[w] = indptr[w]
                    sp += 1
                    stack[sp] = w
                elif w != parent[v] and disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                sp -= 1
                p = parent[v]
                if p != -1:
                    if low[v] < low[p]:
                        low[p] = low[v]
                    if low[v] > disc[p]:
                        bu[nb] = p
                        bv[nb] = v
                        nb += 1
                    if parent[p] != -1 and low[v] >= disc[p]:
                        art[p] = 1
        if kids[s] > 1:
            art[s] = 1
    return art, bu[:nb].copy(), bv[:nb].copy()


@dataclass(frozen=True, slots=True)
class Cuts:
    """Per member position: articulation flag; bridges as sorted position pairs, grouped by cluster
    (``bridges[bridge_offsets[r]:bridge_offsets[r + 1]]``)."""

    articulation: npt.NDArray[np.uint8]
    bridges: I64
    bridge_offsets: I64


def cuts(g: Graph) -> Cuts:
    """Articulation points and bridges of every cluster of ``g``. O(V + E + B log B)."""
    art, bu, bv = _cuts(g.indptr, g.indices, g.offsets[:-1])
    lo, hi = np.minimum(bu, bv), np.maximum(bu, bv)
    order = np.lexsort((hi, lo))
    bridges = np.stack((lo[order], hi[order]), axis=1) if len(lo) else np.empty((0, 2), np.int64)
    rank = np.searchsorted(g.offsets, bridges[:, 0], side="right") - 1
    bridge_offsets = np.zeros(len(g.offsets), np.int64)
    np.cumsum(np.bincount(rank, minlength=len(g.offsets) - 1), out=bridge_offsets[1:])
    return Cuts(art, bridges, bridge_offsets)


@njit(cache=True)
def _brandes(indptr: np.ndarray, indices: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Betweenness of positions ``lo..hi-1`` (one connected cluster), normalised as networkx's
    ``betweenness_centrality(normalized=True)`` on the cluster alone: pair dependencies summed over every
    source, divided by (n-1)(n-2). O(V·E)."""
    n = hi - lo
    bc = np.zeros(n, np.float64)
    if n <= 2:
        return bc
    sigma = np.zeros(n, np.float64)
    dist = np.full(n, -1, np.int64)
    delta = np.zeros(n, np.float64)
    order = np.empty(n, np.int64)
    for s in range(n):
        sigma[:] = 0.0
        dist[:] = -1
        delta[:] = 0.0
        sigma[s] = 1.0
        dist[s] = 0
        head = 0
        tail = 1
        order[0] = s
        while head < tail:
            v = order[head]
            head += 1
            for k in range(indptr[v + lo], indptr[v + lo + 1]):
                w = indices[k] - lo
                if dist[w] < 0:
                    dist[w] = dist[v] + 1
                    order[tail] = w
                    tail += 1
                if dist[w] == dist[v] + 1:
                    sigma[w] += sigma[v]
        for x in range(tail - 1, 0, -1):
            w = order[x]
            for k in range(indptr[w + lo], indptr[w + lo + 1]):
                v = indices[k] - lo
                if dist[v] == dist[w] - 1:
                    delta[v] += sigma[v] / sigma[w] * (1.0 + delta[w])
            bc[w] += delta[w]
    return bc / ((n - 1) * (n - 2))


def betweenness(g: Graph, rank: int, limit: int = BETWEENNESS_LIMIT) -> npt.NDArray[np.float64]:
    """Normalised betweenness of every member of cluster ``rank`` (NaN when it has more than ``limit``
    members). O(V·E) for that cluster."""
    lo, hi = int(g.offsets[rank]), int(g.offsets[rank + 1])
    if hi - lo > limit:
        return np.full(hi - lo, np.nan)
    return _brandes(g.indptr, g.indices, lo, hi)
