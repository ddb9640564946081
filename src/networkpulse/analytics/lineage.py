"""Stable cluster identity and lineage between two consecutive windows.

The rule (documented in docs/analytics.md; the tests hold a naive transcription of it):

* **Overlap.** For every listed cluster ``i`` of the new window and ``j`` of the previous one, ``o(i, j)`` is
  the number of accounts they share. ``j`` is a *parent* of ``i`` when ``o(i, j) >= 1``; parents are listed by
  overlap (largest first), then by id (oldest first).
* **Identity.** A new cluster may inherit a previous cluster's id when they share at least ``min_share`` of the
  *smaller* of the two (default half; so a cluster that grows from 3 to 300 or shrinks from 300 to 3 keeps its
  id, while a 3-account cluster holding one member of a vanished 300-account cluster does not). Among the
  eligible pairs, ids are handed out greedily by overlap, largest first; ties go to the older id (the smaller
  number), then to the new cluster of lower rank (larger, then smallest member id). Each id goes to at most one
  cluster and each cluster takes at most one id, so no two clusters of a window share an id. A cluster that
  inherits nothing gets the next fresh id (in rank order).
* **Events** of a new cluster: ``born`` (no parent, or one parent whose id it did not inherit and which has no
  other child), ``merged`` (two or more parents), ``split`` (one parent that has two or more children in the new
  window: every child says ``split``, the one that kept the id included), else, having inherited its one
  parent's id: ``grew`` / ``shrank`` / ``steady`` by member count.
* **Ends.** A previous cluster whose id nobody inherited *ends* in the new window, ``into`` the ids of the new
  clusters it shares accounts with (overlap order): ``[]`` means it died; otherwise it was absorbed by a merge
  or dissolved into a split. Ended ids are never reused (a cluster that forms again later is ``born`` anew).

Costs: O(M) for the M listed members of both windows (one labelling pass, in numba) plus O(P log P) for the P
overlapping pairs, which is at most the number of clusters of both windows combined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]

#: Event names by code, as stored (one byte per cluster).
EVENTS = ("born", "grew", "shrank", "steady", "merged", "split")
BORN, GREW, SHRANK, STEADY, MERGED, SPLIT = range(6)


@dataclass(frozen=True, slots=True)
class Clusters:
    """A window's listed clusters with their ids: cluster ``r`` is ``members[offsets[r]:offsets[r + 1]]``
    (sorted ids of any stable id space: engine vertex ids, or store account ids)."""

    ids: I64
    members: I32
    offsets: I64

    @classmethod
    def empty(cls) -> Clusters:
        return cls(np.empty(0, np.int64), np.empty(0, np.int32), np.zeros(1, np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def sizes(self) -> I64:
        return np.diff(self.offsets)


@dataclass(frozen=True, slots=True)
class Match:
    """The lineage of one window: per new cluster (rank order) its id, event code and parents
    (``parents[parent_offsets[r]:parent_offsets[r + 1]]``); per ended previous cluster its id and the ids it went
    ``into`` (``into[into_offsets[e]:into_offsets[e + 1]]``)."""

    ids: I64
    events: npt.NDArray[np.uint8]
    parents: I64
    parent_offsets: I64
    ended: I64
    into: I64
    into_offsets: I64
    next_id: int


@njit(cache=True)
def _match(
    prev_ids: np.ndarray, prev_members: np.ndarray, prev_offsets: np.ndarray, members: np.ndarray,
    offsets: np.ndarray, label: np.ndarray, next_id: int, min_share: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The whole rule in one pass (see module doc); ``label`` is a zeroed scratch indexed by account id,
    restored on exit. Sort keys pack (overlap, id rank, cluster rank) in 21 bits each."""
    n_prev, n = prev_offsets.shape[0] - 1, offsets.shape[0] - 1
    for j in range(n_prev):
        for p in range(prev_offsets[j], prev_offsets[j + 1]):
            label[prev_members[p]] = j + 1
    ci = np.empty(members.shape[0], np.int64)
    cj = np.empty(members.shape[0], np.int64)
    co = np.empty(members.shape[0], np.int64)
    k = 0
    for i in range(n):  # (i, j, shared) candidates; a new cluster's few parents are found by a linear scan
        first = k
        for p in range(offsets[i], offsets[i + 1]):
            j = label[members[p]] - 1
            if j < 0:
                continue
            q = first
            while q < k and cj[q] != j:
                q += 1
            if q < k:
                co[q] += 1
            else:
                ci[k], cj[k], co[k] = i, j, 1
                k += 1
    for j in range(n_prev):
        for p in range(prev_offsets[j], prev_offsets[j + 1]):
            label[prev_members[p]] = 0
    ci, cj, co = ci[:k], cj[:k], co[:k]
    id_rank = np.empty(n_prev, np.int64)
    id_rank[np.argsort(prev_ids)] = np.arange(n_prev)
    most = (1 << 21) - 1
    ids = np.full(n, -1, np.int64)
    taken = np.zeros(n_prev, np.bool_)
    for q in np.argsort(((most - co) << 42) | (id_rank[cj] << 21) | ci, kind="mergesort"):
        i, j = ci[q], cj[q]
        size_i, size_j = offsets[i + 1] - offsets[i], prev_offsets[j + 1] - prev_offsets[j]
        if co[q] >= min_share * min(size_i, size_j) and ids[i] < 0 and not taken[j]:
            ids[i] = prev_ids[j]
            taken[j] = True
    inherited = ids >= 0
    for i in range(n):
        if ids[i] < 0:
            ids[i] = next_id
            next_id += 1
    order = np.argsort((ci << 42) | ((most - co) << 21) | id_rank[cj], kind="mergesort")
    parents = prev_ids[cj[order]]
    parent_offsets = np.zeros(n + 1, np.int64)
    children = np.zeros(n_prev, np.int64)
    for q in range(k):
        parent_offsets[ci[q] + 1] += 1
        children[cj[q]] += 1
    parent_offsets = np.cumsum(parent_offsets)
    events = np.full(n, BORN, np.uint8)
    for i in range(n):
        count = parent_offsets[i + 1] - parent_offsets[i]
        if count >= 2:
            events[i] = MERGED
        elif count == 1:
            j = cj[order[parent_offsets[i]]]
            before, now = prev_offsets[j + 1] - prev_offsets[j], offsets[i + 1] - offsets[i]
            if children[j] >= 2:
                events[i] = SPLIT
            elif inherited[i]:
                events[i] = GREW if now > before else SHRANK if now < before else STEADY
    gone = np.flatnonzero(~taken)
    ended_at = np.full(n_prev, -1, np.int64)
    ended_at[gone] = np.arange(gone.shape[0])
    new_rank = np.empty(n, np.int64)
    new_rank[np.argsort(ids)] = np.arange(n)
    sel = np.flatnonzero(ended_at[cj] >= 0)
    go = sel[np.argsort((ended_at[cj[sel]] << 42) | ((most - co[sel]) << 21) | new_rank[ci[sel]], kind="mergesort")]
    into_offsets = np.zeros(gone.shape[0] + 1, np.int64)
    for q in sel:
        into_offsets[ended_at[cj[q]] + 1] += 1
    return ids, events, parents, parent_offsets, prev_ids[gone], ids[ci[go]], np.cumsum(into_offsets), next_id


_LIMIT = 1 << 21


def match(
    prev: Clusters, members: I32, offsets: I64, next_id: int, min_share: float = 0.5,
    label: npt.NDArray[np.int64] | None = None,
) -> Match:
    """The lineage of the new window's clusters ``members``/``offsets`` against ``prev`` (see module doc).
    ``next_id``: the first fresh id. ``label``: a zeroed scratch longer than the largest member id (reused
    across calls to save an allocation; restored on exit). Raises ``ValueError`` past 2^21 clusters or members
    per cluster (the packed sort keys). O(M + P log P) for M members of both windows and P overlapping pairs."""
    if len(offsets) > _LIMIT or len(prev.offsets) > _LIMIT or int(np.diff(offsets).max(initial=0)) >= _LIMIT:
        raise ValueError("lineage: more than 2^21 clusters, or members in a cluster, in one window")
    top = max(int(members.max(initial=-1)), int(prev.members.max(initial=-1))) + 1
    if label is None or len(label) < top:
        label = np.zeros(top, np.int64)
    ids, events, parents, parent_offsets, ended, into, into_offsets, next_id = _match(
        prev.ids, prev.members, prev.offsets, members, offsets, label, next_id, min_share)
    return Match(ids, events, parents, parent_offsets, ended, into, into_offsets, int(next_id))
