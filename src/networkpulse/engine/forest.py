"""Spanning-forest kernels (numba): the only per-edge loops of the engine.

A *forest* is a pair of ``int32`` arrays ``(u, v)`` of real edges with no cycle. It spans every vertex that has
an edge, so a set of edges and its spanning forest have the same connected components. Merging forests is
associative, commutative and idempotent — the engine's window algebra rests on that.

Every kernel uses union-find over *global* dense vertex ids with a caller-owned scratch array ``parent``
(``parent[i] == i`` for all i on entry and on exit), so no relabelling or sorting is needed: the work is
O(m · α) for m input edges and the scratch is restored by touching only the m edges' endpoints.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from networkpulse.engine.types import IdArray


@njit(cache=True, inline="always")
def _find(parent: np.ndarray, x: int) -> int:
    # Path halving: keeps trees shallow without recursion or a second pass.
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def _reset(parent: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    # Only endpoints of the processed edges can have been touched.
    for i in range(u.shape[0]):
        parent[u[i]] = u[i]
        parent[v[i]] = v[i]


@njit(cache=True)
def _union_keep(
    xu: np.ndarray, xv: np.ndarray, parent: np.ndarray, out_u: np.ndarray, out_v: np.ndarray, k: int
) -> int:
    """Union every edge of ``x``, appending those that joined two trees to ``out`` from position ``k``."""
    for i in range(xu.shape[0]):
        a = xu[i]
        b = xv[i]
        ra = _find(parent, a)
        rb = _find(parent, b)
        if ra != rb:
            parent[ra] = rb
            out_u[k] = a
            out_v[k] = b
            k += 1
    return k


@njit(cache=True)
def spanning_forest(u: np.ndarray, v: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the edges of ``(u, v)`` that join two different trees, in input order. O(m · α)."""
    out_u = np.empty(u.shape[0], np.int32)
    out_v = np.empty(u.shape[0], np.int32)
    k = _union_keep(u, v, parent, out_u, out_v, 0)
    _reset(parent, u, v)
    return out_u[:k].copy(), out_v[:k].copy()


@njit(cache=True)
def merge_forests(
    au: np.ndarray, av: np.ndarray, bu: np.ndarray, bv: np.ndarray, parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A spanning forest of the union of two forests. O(|a| + |b|), no concatenation copy."""
    m = au.shape[0] + bu.shape[0]
    out_u = np.empty(m, np.int32)
    out_v = np.empty(m, np.int32)
    k = _union_keep(au, av, parent, out_u, out_v, 0)
    k = _union_keep(bu, bv, parent, out_u, out_v, k)
    _reset(parent, au, av)
    _reset(parent, bu, bv)
    return out_u[:k].copy(), out_v[:k].copy()


def window_summary(
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    parent: np.ndarray,
    count: np.ndarray,
    slot: np.ndarray,
    min_size: int,
) -> tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Components of the union of ``a`` (a forest) and ``b`` (any edge set, here the back panes' forests).

    Returns ``(vertices, components, largest, members, offsets, tree_edges)`` in the columnar layout of
    :class:`~networkpulse.engine.types.Window`: clusters of size >= ``min_size``, largest first, ties by
    smallest member, members sorted, each with the size - 1 forest edges that span it.
    ``count`` and ``slot`` are zeroed scratch arrays like ``parent``; all three are restored on exit.
    O(m · α + c log c) for m forest edges and c members of listed clusters; no per-cluster Python. The one
    sort runs in numpy between two kernels because numpy's vectorised sort is ~3× numba's.
    """
    n, m, largest, ku, kv, verts, big = _summary_union(a[0], a[1], b[0], b[1], parent, count, slot, min_size)
    big.sort()
    members, offsets, tree_edges = _summary_scatter(ku[:m], kv[:m], verts, big, parent, count, slot, min_size)
    return n, n - m, largest, members, offsets, tree_edges  # a forest on n vertices with m edges has n - m trees


@njit(cache=True)
def _summary_union(
    au: np.ndarray, av: np.ndarray, bu: np.ndarray, bv: np.ndarray, parent: np.ndarray, count: np.ndarray,
    slot: np.ndarray, min_size: int,
) -> tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unions, distinct vertices, tree sizes (in ``count`` at each root), members of listed trees (unsorted).
    Leaves ``parent`` fully compressed (parent[x] is x's root) for :func:`_summary_scatter`."""
    ku = np.empty(au.shape[0] + bu.shape[0], np.int32)
    kv = np.empty_like(ku)
    m = _union_keep(au, av, parent, ku, kv, 0)
    m = _union_keep(bu, bv, parent, ku, kv, m)
    # Three passes: distinct vertices (marked in the zeroed ``slot`` scratch); full path compression
    # (parent[x] becomes x's root: one random access per later lookup) with tree sizes counted at roots;
    # then the members of listed trees, restoring ``slot``.
    verts = np.empty(2 * m, np.int32)
    n = 0
    for i in range(m):
        for x in (ku[i], kv[i]):
            if slot[x] == 0:
                slot[x] = 1
                verts[n] = x
                n += 1
    verts = verts[:n]
    for i in range(n):
        r = _find(parent, verts[i])
        parent[verts[i]] = r
        count[r] += 1
    big = np.empty(n, np.int32)
    c = 0
    largest = 0
    for i in range(n):
        x = verts[i]
        slot[x] = 0
        size = count[parent[x]]
        if size > largest:
            largest = size
        if size >= min_size:
            big[c] = x
            c += 1
    big = big[:c]
    return n, m, largest, ku, kv, verts, big


@njit(cache=True)
def _summary_scatter(
    ku: np.ndarray, kv: np.ndarray, verts: np.ndarray, big: np.ndarray, parent: np.ndarray, count: np.ndarray,
    slot: np.ndarray, min_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay out the listed trees (``big`` sorted ascending) largest first, then restore every scratch."""
    c = big.shape[0]
    k = 0
    roots = np.empty(c, np.int32)
    sizes = np.empty(c, np.int64)
    for i in range(c):  # in ascending member order, a tree is first met at its smallest member
        r = parent[big[i]]
        if slot[r] == 0:
            slot[r] = 1
            roots[k] = r
            sizes[k] = count[r]
            k += 1
    order = np.argsort(-sizes[:k], kind="mergesort")  # stable: ties keep smallest-member order
    offsets = np.zeros(k + 1, np.int64)
    for i in range(k):
        offsets[i + 1] = offsets[i] + sizes[order[i]]
    for i in range(k):
        slot[roots[order[i]]] = offsets[i]  # write cursor of that tree's members
    members = np.empty(c, np.int32)
    for i in range(c):
        r = parent[big[i]]
        members[slot[r]] = big[i]
        slot[r] += 1
    for i in range(k):
        slot[roots[order[i]]] = offsets[i] - i  # write cursor of that tree's edges
    tree_edges = np.empty((c - k, 2), np.int32)
    for i in range(ku.shape[0]):
        r = parent[ku[i]]
        if count[r] >= min_size:
            e = slot[r]
            tree_edges[e, 0] = ku[i]
            tree_edges[e, 1] = kv[i]
            slot[r] = e + 1
    # Every vertex touched by the unions is an endpoint of a kept edge (a rejected edge's endpoints were
    # already joined), and roots are vertices too: this restores all three scratches.
    for i in range(verts.shape[0]):
        count[verts[i]] = 0
        slot[verts[i]] = 0
        parent[verts[i]] = verts[i]
    return members, offsets, tree_edges


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


@njit(cache=True)
def _listed_pair_keys(
    table: np.ndarray, members: np.ndarray, offsets: np.ndarray, slot: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of a :class:`PairCounter` table whose endpoints lie in a listed cluster: their keys, the rank
    of that cluster and their multiplicities, in table order. ``slot`` is a zeroed scratch indexed by vertex id,
    restored on exit. O(capacity + listed members): both endpoints of a pair are in one component, so the low
    endpoint decides."""
    for r in range(offsets.shape[0] - 1):
        for i in range(offsets[r], offsets[r + 1]):
            slot[members[i]] = r + 1
    n = 0
    for i in range(table.shape[0] // 2):
        key = table[2 * i]
        if key != _EMPTY and slot[key >> 32] != 0:
            n += 1
    keys = np.empty(n, np.int64)
    ranks = np.empty(n, np.int64)
    counts = np.empty(n, np.int32)
    k = 0
    for i in range(table.shape[0] // 2):
        key = table[2 * i]
        if key != _EMPTY:
            r = slot[key >> 32]
            if r != 0:
                keys[k] = key
                ranks[k] = r - 1
                counts[k] = table[2 * i + 1]
                k += 1
    for i in range(members.shape[0]):
        slot[members[i]] = 0
    return keys, ranks, counts


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
        self, members: np.ndarray, offsets: np.ndarray, slot: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct pairs inside the listed clusters ``members``/``offsets`` (columnar, as in ``Window``),
        grouped by cluster rank and sorted by key inside each: ``(pairs (Q, 2) int32 low/high vertex ids,
        pair_offsets (clusters + 1) int64, multiplicities int32)``. The order never depends on the table's
        history, so a restored engine emits the very same arrays. O(capacity + listed members + Q log Q)."""
        keys, ranks, counts = _listed_pair_keys(self.table, members, offsets, slot)
        order = np.lexsort((keys, ranks))
        keys, counts = keys[order], counts[order]
        pairs = np.empty((len(keys), 2), np.int32)
        pairs[:, 0] = keys >> 32
        pairs[:, 1] = keys & 0xFFFFFFFF
        bounds = np.zeros(len(offsets), np.int64)
        np.cumsum(np.bincount(ranks, minlength=len(offsets) - 1), out=bounds[1:])
        return pairs, bounds, counts
