"""Spanning-forest kernels (numba): the only per-edge and per-vertex loops of the engine.

A *forest* is a pair of ``int32`` arrays ``(u, v)`` of real edges with no cycle. It spans every vertex that has
an edge, so a set of edges and its spanning forest have the same connected components. Merging forests is
associative, commutative and idempotent — the engine's window algebra rests on that.

The kernels work in *slot* space: the engine gives each vertex held by an open pane a small slot id
(:class:`networkpulse.engine.windows._Slots`), so the union-find scratch is the size of the window, not of
every account ever seen. Measured on ``benchmarks/engine.py`` (673 k accounts, ~20 k per window): indexing the
scratch by global id made every access a cache miss, and the window summary took 70 % of the engine's time.

Union by size, not arbitrary linking: a hub met early (a popular repo owner) otherwise roots long chains that
path halving only slowly flattens (the issue's prototype measured −30 % time). Which edges are *kept* depends only
on the order edges are offered (an edge is kept iff it joins two trees of what came before), never on the slot
numbering or the linking rule: that is what makes a restored engine, whose slots differ, emit the very same trees.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from networkpulse.engine.types import IdArray


@njit(cache=True, inline="always")
def _root(parent: np.ndarray, x: int) -> int:
    # One array: parent[x] >= 0 is x's parent, parent[r] < 0 marks a root holding -(tree size), so union by size
    # reads no second array. Path halving keeps trees shallow without recursion or a second pass.
    while parent[x] >= 0:
        p = parent[x]
        g = parent[p]
        if g < 0:
            return p
        parent[x] = g
        x = g
    return x


@njit(cache=True, inline="always")
def _link(parent: np.ndarray, a: int, b: int) -> None:
    # Union by size on two distinct roots: the smaller tree hangs under the larger one.
    if parent[a] > parent[b]:
        a, b = b, a
    parent[a] += parent[b]
    parent[b] = a


@njit(cache=True)
def spanning_forest(
    u: np.ndarray, v: np.ndarray, slots: np.ndarray, parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The edges of ``(u, v)`` (slot ids) that join two different trees, in input order. ``slots``: every slot
    the edges touch (initialises the scratch; nothing needs restoring afterwards). O(m · α + |slots|)."""
    for i in range(slots.shape[0]):
        parent[slots[i]] = -1
    out_u = np.empty(u.shape[0], np.int32)
    out_v = np.empty(u.shape[0], np.int32)
    k = 0
    for i in range(u.shape[0]):
        a = _root(parent, u[i])
        b = _root(parent, v[i])
        if a != b:
            _link(parent, a, b)
            out_u[k] = u[i]
            out_v[k] = v[i]
            k += 1
    return out_u[:k].copy(), out_v[:k].copy()


@njit(cache=True)
def window_summary(
    eu: np.ndarray, ev: np.ndarray, gu: np.ndarray, gv: np.ndarray, sorted_gid: np.ndarray, sorted_slot: np.ndarray,
    parent: np.ndarray, label: np.ndarray, top: int, min_size: int, want_ranks: bool,
) -> tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Components of the graph on the live slots with edges ``(eu, ev)`` (slot ids; the panes' forests, oldest
    first; ``(gu, gv)`` the same edges in global ids), in one call.

    ``sorted_slot`` lists every live slot in ascending global id (``sorted_gid``); ``parent`` and ``label`` are
    scratch indexed by slot, initialised here over ``[0, top)`` (every slot ever handed out) in one sequential
    sweep — cheaper than scattered writes to the live slots. Returns ``(vertices, components, largest, members,
    offsets, tree_edges, rank_at)`` in the columnar layout of :class:`~networkpulse.engine.types.Window` (global
    ids): clusters of size >= ``min_size``, largest first, ties by smallest member, members sorted, each with
    the size - 1 kept edges that span it; with ``want_ranks``, ``rank_at[i]`` is the rank of the cluster holding
    ``sorted_gid[i]`` (-1 if not listed), else empty.

    O(m · α + V + top + c log c) for m edges, V live slots and c listed clusters. Members come out sorted with
    no sort: one pass over the live slots in global order scatters each into its cluster's range. The passes
    after the unions read their per-vertex and per-edge inputs in order (cluster ordinals noted per position and
    per slot by the labelling pass, edges in global ids given): on the sparse benchmark the random reads of
    ``parent``/``label``/slot→id they replace cost ~30 % of the summary.
    """
    for s in range(top):
        parent[s] = -1
    keep = np.empty(eu.shape[0], np.int32)
    m = 0
    for i in range(eu.shape[0]):
        a = _root(parent, eu[i])
        b = _root(parent, ev[i])
        if a != b:
            _link(parent, a, b)
            keep[m] = i
            m += 1
    # Labelling in global order: a tree is first met at its smallest member, so numbering listed trees as met
    # (ordinals) orders ties by smallest member. ``label`` holds the ordinal at the root from the first member
    # met on, and at every vertex once visited (-1: not listed), for the tree-edge pass.
    n = sorted_slot.shape[0]
    for i in range(n):
        label[sorted_slot[i]] = -1
    ordinal_at = np.empty(n, np.int32)
    sizes = np.empty(n, np.int64)
    c = 0
    largest = 0
    listed = 0
    for i in range(n):
        s = sorted_slot[i]
        r = _root(parent, s)
        t = -parent[r]
        if t > largest:
            largest = t
        o = -1
        if t >= min_size:
            o = label[r]
            if o < 0:
                o = c
                sizes[c] = t
                listed += t
                c += 1
            label[r] = o
        label[s] = o
        ordinal_at[i] = o
    order = np.argsort(-sizes[:c], kind="mergesort")  # stable: ties keep smallest-member order
    rank_of = np.empty(c, np.int32)
    offsets = np.zeros(c + 1, np.int64)
    cursor = np.empty(c, np.int64)
    for rank in range(c):
        rank_of[order[rank]] = rank
        offsets[rank + 1] = offsets[rank] + sizes[order[rank]]
        cursor[rank] = offsets[rank]
    members = np.empty(listed, np.int32)
    rank_at = np.full(n if want_ranks else 0, -1, np.int32)
    for i in range(n):
        o = ordinal_at[i]
        if o >= 0:
            rank = rank_of[o]
            members[cursor[rank]] = sorted_gid[i]
            cursor[rank] += 1
            if want_ranks:
                rank_at[i] = rank
    for rank in range(c):
        cursor[rank] = offsets[rank] - rank  # write cursor of that tree's edges
    tree_edges = np.empty((listed - c, 2), np.int32)
    for j in range(m):
        i = keep[j]
        o = label[eu[i]]
        if o >= 0:
            rank = rank_of[o]
            e = cursor[rank]
            tree_edges[e, 0] = gu[i]
            tree_edges[e, 1] = gv[i]
            cursor[rank] = e + 1
    return n, n - m, largest, members, offsets, tree_edges, rank_at  # n vertices, m forest edges: n - m trees


@njit(cache=True)
def acquire_slots(
    verts: np.ndarray, sorted_gid: np.ndarray, sorted_slot: np.ndarray, n: int, gid: np.ndarray, refs: np.ndarray,
    free: np.ndarray, n_free: int,
) -> tuple[np.ndarray, int, int, int]:
    """Slots for ``verts`` (global ids, ascending, distinct), one pane reference taken on each; vertices not
    live yet get a free slot and are merged into the first ``n`` entries of the ascending ``sorted_gid`` /
    ``sorted_slot`` buffers (in place, from the back). The caller guarantees room (``n_free`` and the buffers).
    Returns ``(slots, live count, free count, highest slot handed out + 1)``. O(p + V), sequential."""
    p = verts.shape[0]
    slots = np.empty(p, np.int32)
    new = np.zeros(p, np.bool_)
    j = 0
    added = 0
    top = 0
    for i in range(p):
        g = verts[i]
        while j < n and sorted_gid[j] < g:
            j += 1
        if j < n and sorted_gid[j] == g:
            slots[i] = sorted_slot[j]
        else:
            n_free -= 1
            s = free[n_free]
            slots[i] = s
            gid[s] = g
            new[i] = True
            added += 1
        refs[slots[i]] += 1
        if slots[i] + 1 > top:
            top = slots[i] + 1
    w = n + added  # merge from the back: the new vertices into the sorted buffers
    j = n - 1
    for i in range(p - 1, -1, -1):
        if not new[i]:
            continue
        while j >= 0 and sorted_gid[j] > verts[i]:
            w -= 1
            sorted_gid[w] = sorted_gid[j]
            sorted_slot[w] = sorted_slot[j]
            j -= 1
        w -= 1
        sorted_gid[w] = verts[i]
        sorted_slot[w] = slots[i]
    return slots, n + added, n_free, top


@njit(cache=True)
def pane_forest(
    keys: np.ndarray, high: np.ndarray, sorted_gid: np.ndarray, sorted_slot: np.ndarray, n: int, gid: np.ndarray,
    refs: np.ndarray, free: np.ndarray, n_free: int, parent: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Close a pane in one call: ``keys`` (its pair keys, sorted, repeats allowed; ``high`` their high endpoints,
    sorted: numpy's vectorised sort is ~5× numba's) → its distinct keys, its
    spanning forest in slot ids (kept in key order) and the slots of its vertices, taking a pane reference on
    each (see :func:`acquire_slots`, whose room the caller guarantees). Returns ``(distinct keys, forest u,
    forest v, slots, live count, free count, top)``. O(m + p log p + V) for m keys, p vertices, V live."""
    k = 0
    for i in range(keys.shape[0]):
        if k == 0 or keys[i] != keys[k - 1]:
            keys[k] = keys[i]
            k += 1
    keys = keys[:k].copy()
    u = (keys >> 32).astype(np.int32)  # ascending: keys sort by their low endpoint first
    v = (keys & 0xFFFFFFFF).astype(np.int32)
    verts = np.empty(k + high.shape[0], np.int32)  # the distinct endpoints, ascending: merge u and the sorted v
    p = 0
    i = j = 0
    while i < k or j < high.shape[0]:
        if j >= high.shape[0] or (i < k and u[i] <= high[j]):
            x = u[i]
            i += 1
        else:
            x = high[j]
            j += 1
        if p == 0 or verts[p - 1] != x:
            verts[p] = x
            p += 1
    verts = verts[:p]
    slots, n, n_free, top = acquire_slots(verts, sorted_gid, sorted_slot, n, gid, refs, free, n_free)
    su = np.empty(k, np.int32)
    sv = np.empty(k, np.int32)
    j = 0
    for i in range(k):
        while verts[j] != u[i]:
            j += 1
        su[i] = slots[j]
    at = np.searchsorted(verts, v)
    for i in range(k):
        sv[i] = slots[at[i]]
    fu, fv = spanning_forest(su, sv, slots, parent)
    return keys, fu, fv, slots, n, n_free, top


@njit(cache=True)
def release_slots(
    slots: np.ndarray, sorted_gid: np.ndarray, sorted_slot: np.ndarray, n: int, gid: np.ndarray, refs: np.ndarray,
    free: np.ndarray, n_free: int,
) -> tuple[int, int]:
    """Drop one pane reference on each of ``slots`` (distinct); slots no pane holds any more go back to
    ``free`` and leave the sorted buffers (compacted in place). Returns ``(live count, free count)``.
    O(p), plus O(V) sequential when a vertex left."""
    dead = 0
    for i in range(slots.shape[0]):
        s = slots[i]
        refs[s] -= 1
        if refs[s] == 0:
            gid[s] = -1
            free[n_free] = s
            n_free += 1
            dead += 1
    if dead:
        w = 0
        for i in range(n):
            if refs[sorted_slot[i]] > 0:
                sorted_gid[w] = sorted_gid[i]
                sorted_slot[w] = sorted_slot[i]
                w += 1
        n = w
    return n, n_free


def empty_forest() -> tuple[IdArray, IdArray]:
    return np.empty(0, np.int32), np.empty(0, np.int32)


_EMPTY = -1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _home(key: int, shift: int) -> int:
    # Fibonacci hashing: the high bits of key · 2^64/φ spread consecutive pair keys over the table.
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(shift))


@njit(cache=True)
def count_pairs(table: np.ndarray, shift: int, keys: np.ndarray, delta: int) -> int:
    """Add ``delta`` (+1/-1) to the multiplicity of each pair key in an open-addressing multiset.

    ``table`` holds ``(key, count)`` pairs side by side (one cache line per probe), a power of two of them;
    ``_EMPTY`` keys mark free slots; ``shift`` = 64 - log2(slots). Linear probing, backward-shift deletion.
    Returns how many keys appeared (+1) or disappeared (-1). O(1) expected per key while the table is at most
    half full, which the caller keeps. ~4× faster than a numba typed dict.
    """
    mask = table.shape[0] // 2 - 1
    changed = 0
    for n in range(keys.shape[0]):
        key = keys[n]
        i = _home(key, shift)
        while table[2 * i] != key and table[2 * i] != _EMPTY:
            i = (i + 1) & mask
        if delta > 0:
            if table[2 * i] == _EMPTY:
                table[2 * i] = key
                changed += 1
            table[2 * i + 1] += 1
            continue
        table[2 * i + 1] -= 1
        if table[2 * i + 1] > 0:
            continue
        changed += 1
        j = i
        while True:  # backward shift: pull later entries of the probe run into the hole
            j = (j + 1) & mask
            if table[2 * j] == _EMPTY:
                break
            h = _home(table[2 * j], shift)
            if (i <= j and i < h <= j) or (i > j and (h > i or h <= j)):
                continue
            table[2 * i] = table[2 * j]
            table[2 * i + 1] = table[2 * j + 1]
            i = j
        table[2 * i] = _EMPTY
        table[2 * i + 1] = 0
    return changed


@njit(cache=True)
def _rehash(table: np.ndarray, shift: int, old: np.ndarray) -> None:
    mask = table.shape[0] // 2 - 1
    for n in range(old.shape[0] // 2):
        key = old[2 * n]
        if key == _EMPTY:
            continue
        i = _home(key, shift)
        while table[2 * i] != _EMPTY:
            i = (i + 1) & mask
        table[2 * i] = key
        table[2 * i + 1] = old[2 * n + 1]


class PairCounter:
    """Multiset of undirected pair keys: how many distinct pairs the current window holds."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self.size = 0
        self._allocate(capacity)

    def _allocate(self, slots: int) -> None:
        self.table = np.zeros(2 * slots, np.int64)
        self.table[0::2] = _EMPTY
        self.shift = 64 - (slots.bit_length() - 1)

    @property
    def keys(self) -> np.ndarray:
        return self.table[0::2][self.table[0::2] != _EMPTY]

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct keys and how many times each is held. O(capacity)."""
        used = self.table[0::2] != _EMPTY
        return self.table[0::2][used].copy(), self.table[1::2][used].copy()

    def update(self, keys: np.ndarray, delta: int) -> None:
        slots = len(self.table) // 2
        if delta > 0 and 2 * (self.size + len(keys)) > slots:
            old = self.table
            self._allocate(max(2 * slots, 1 << (4 * (self.size + len(keys))).bit_length()))
            _rehash(self.table, self.shift, old)
        self.size += count_pairs(self.table, self.shift, keys, delta) * (1 if delta > 0 else -1)

    def __len__(self) -> int:
        return self.size

    def listed(
        self, sorted_gid: IdArray, rank_at: IdArray, n_clusters: int
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """The distinct pairs inside the listed clusters, grouped by cluster rank and sorted by key inside each:
        ``(pairs (Q, 2) int32 low/high vertex ids, pair_offsets (n_clusters + 1) int64, multiplicities int32)``.
        ``sorted_gid``/``rank_at``: the window's vertices ascending and the rank of each one's listed cluster
        (-1 if none), from :func:`window_summary`. Both endpoints of a pair are in one component, so the low
        endpoint decides. The order never depends on the table's history, so a restored engine emits the very
        same arrays. O(capacity + P log V + Q log Q) for P held pairs, V vertices, Q listed pairs."""
        keys, counts = self.items()
        rank = rank_at[np.searchsorted(sorted_gid, (keys >> 32).astype(np.int32))] if len(keys) else keys
        inside = rank >= 0
        keys, counts, rank = keys[inside], counts[inside].astype(np.int32), rank[inside]
        order = np.lexsort((keys, rank))
        keys, counts = keys[order], counts[order]
        pairs = np.empty((len(keys), 2), np.int32)
        pairs[:, 0] = keys >> 32
        pairs[:, 1] = keys & 0xFFFFFFFF
        bounds = np.zeros(n_clusters + 1, np.int64)
        np.cumsum(np.bincount(rank, minlength=n_clusters), out=bounds[1:])
        return pairs, bounds, counts
