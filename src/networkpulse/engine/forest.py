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
def spanning_forest(u: np.ndarray, v: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the edges of ``(u, v)`` that join two different trees, in input order. O(m · α)."""
    m = u.shape[0]
    out_u = np.empty(m, np.int32)
    out_v = np.empty(m, np.int32)
    k = 0
    for i in range(m):
        a = u[i]
        b = v[i]
        ra = _find(parent, a)
        rb = _find(parent, b)
        if ra != rb:
            parent[ra] = rb
            out_u[k] = a
            out_v[k] = b
            k += 1
    _reset(parent, u, v)
    return out_u[:k].copy(), out_v[:k].copy()


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
    """Components of the union of forests ``a`` and ``b``.

    Returns ``(vertices, components, largest, members, offsets, tree_edges)`` in the columnar layout of
    :class:`~networkpulse.engine.types.Window`: clusters of size >= ``min_size``, largest first, ties by
    smallest member, members sorted, each with the size - 1 forest edges that span it.
    ``count`` and ``slot`` are zeroed scratch arrays like ``parent``; all three are restored on exit.
    O(m · α + c log c) for m forest edges and c members of listed clusters; no per-cluster Python. The one
    sort runs in numpy between two kernels because numpy's vectorised sort is ~3× numba's.
    """
    n, m, largest, ku, kv, verts, big = _summary_union(a[0], a[1], b[0], b[1], parent, count, min_size)
    big.sort()
    members, offsets, tree_edges = _summary_scatter(ku[:m], kv[:m], verts, big, parent, count, slot, min_size)
    return n, n - m, largest, members, offsets, tree_edges  # a forest on n vertices with m edges has n - m trees


@njit(cache=True)
def _summary_union(
    au: np.ndarray, av: np.ndarray, bu: np.ndarray, bv: np.ndarray, parent: np.ndarray, count: np.ndarray,
    min_size: int,
) -> tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unions, distinct vertices, tree sizes (in ``count`` at each root), members of listed trees (unsorted).
    Leaves ``parent`` fully compressed (parent[x] is x's root) for :func:`_summary_scatter`."""
    ku = np.empty(au.shape[0] + bu.shape[0], np.int32)
    kv = np.empty_like(ku)
    m = _union_keep(au, av, parent, ku, kv, 0)
    m = _union_keep(bu, bv, parent, ku, kv, m)
    # Distinct vertices (seen ones marked -1 in the zeroed count scratch), then full path compression so
    # parent[x] is x's root from here on: one random access per lookup instead of a walk.
    verts = np.empty(2 * m, np.int32)
    n = 0
    for i in range(m):
        for x in (ku[i], kv[i]):
            if count[x] == 0:
                count[x] = -1
                verts[n] = x
                n += 1
    verts = verts[:n]
    for i in range(n):
        count[verts[i]] = 0
    for i in range(n):
        parent[verts[i]] = _find(parent, verts[i])
    largest = 0
    for i in range(n):
        r = parent[verts[i]]
        count[r] += 1
        if count[r] > largest:
            largest = count[r]
    c = 0
    for i in range(n):
        if count[parent[verts[i]]] >= min_size:
            c += 1
    big = np.empty(c, np.int32)
    j = 0
    for i in range(n):
        if count[parent[verts[i]]] >= min_size:
            big[j] = verts[i]
            j += 1
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


@njit(cache=True)
def count_pairs(counter: dict, keys: np.ndarray, delta: int) -> int:
    """Add ``delta`` (+1/-1) to the multiplicity of each distinct pair key; return how many keys appeared
    (delta=+1) or disappeared (delta=-1). O(len(keys)) hash operations."""
    changed = 0
    for i in range(keys.shape[0]):
        k = keys[i]
        c = counter.get(k, 0) + delta
        if c == 0:
            del counter[k]
            changed += 1
        else:
            if c == 1 and delta == 1:
                changed += 1
            counter[k] = c
    return changed
