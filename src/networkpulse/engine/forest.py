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
def merge_forests(
    au: np.ndarray, av: np.ndarray, bu: np.ndarray, bv: np.ndarray, parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A spanning forest of the union of two forests. O(|a| + |b|), no concatenation copy."""
    m = au.shape[0] + bu.shape[0]
    out_u = np.empty(m, np.int32)
    out_v = np.empty(m, np.int32)
    k = 0
    for side in range(2):
        xu = au if side == 0 else bu
        xv = av if side == 0 else bv
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
    _reset(parent, au, av)
    _reset(parent, bu, bv)
    return out_u[:k].copy(), out_v[:k].copy()


@njit(cache=True)
def forest_summary(
    u: np.ndarray, v: np.ndarray, parent: np.ndarray, count: np.ndarray, min_size: int
) -> tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, components, largest, and the members/edges of trees of size >= ``min_size``. O(m · α).

    ``count`` is a zeroed scratch array like ``parent`` (zeroed again on exit). Returns
    ``(vertices, components, largest, member_ids, member_roots, edge_u, edge_v, edge_roots)`` where a root
    labels its tree; the caller groups by root (only the large trees, which are few).
    """
    m = u.shape[0]
    for i in range(m):
        ra = _find(parent, u[i])
        rb = _find(parent, v[i])
        if ra != rb:
            parent[ra] = rb
    # Collect each distinct vertex once, marking seen ones with -1 in the (zeroed) count scratch.
    vertices = 0
    verts = np.empty(2 * m, np.int32)
    for i in range(m):
        for x in (u[i], v[i]):
            if count[x] >= 0:
                count[x] = -1
                verts[vertices] = x
                vertices += 1
    verts = verts[:vertices]
    for i in range(vertices):
        count[verts[i]] = 0
    largest = 0
    for i in range(vertices):
        r = _find(parent, verts[i])
        count[r] += 1
        if count[r] > largest:
            largest = count[r]
    components = vertices - m  # a forest on n vertices with m edges has n - m trees
    big = 0
    for i in range(vertices):
        if count[_find(parent, verts[i])] >= min_size:
            big += 1
    member_ids = np.empty(big, np.int32)
    member_roots = np.empty(big, np.int32)
    j = 0
    for i in range(vertices):
        r = _find(parent, verts[i])
        if count[r] >= min_size:
            member_ids[j] = verts[i]
            member_roots[j] = r
            j += 1
    n_edges = 0
    for i in range(m):
        if count[_find(parent, u[i])] >= min_size:
            n_edges += 1
    edge_u = np.empty(n_edges, np.int32)
    edge_v = np.empty(n_edges, np.int32)
    edge_roots = np.empty(n_edges, np.int32)
    j = 0
    for i in range(m):
        r = _find(parent, u[i])
        if count[r] >= min_size:
            edge_u[j] = u[i]
            edge_v[j] = v[i]
            edge_roots[j] = r
            j += 1
    for i in range(vertices):  # roots are vertices too, so this restores the whole scratch
        count[verts[i]] = 0
    _reset(parent, u, v)
    return vertices, components, largest, member_ids, member_roots, edge_u, edge_v, edge_roots


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
