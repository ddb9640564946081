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

Costs: O(M log M) for the M listed members of both windows (one sort-based intersection) plus O(P log P) for
the P overlapping pairs, which is at most the number of clusters of both windows combined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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


def overlaps(prev: Clusters, members: I32, offsets: I64) -> tuple[I64, I64, I64]:
    """Every (new rank i, previous index j, shared accounts o) with o >= 1, as three arrays. Members of one
    window are disjoint (components), so one sorted intersection finds every shared account. O(M log M)."""
    if not len(prev) or len(offsets) < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    _, at_new, at_prev = np.intersect1d(members, prev.members, assume_unique=True, return_indices=True)
    i = np.searchsorted(offsets, at_new, side="right") - 1
    j = np.searchsorted(prev.offsets, at_prev, side="right") - 1
    pair, o = np.unique(i * len(prev) + j, return_counts=True)
    return pair // len(prev), pair % len(prev), o.astype(np.int64)


def match(prev: Clusters, members: I32, offsets: I64, next_id: int, min_share: float = 0.5) -> Match:
    """The lineage of the new window's clusters ``members``/``offsets`` against ``prev`` (see module doc).
    ``next_id``: the first fresh id. O(M log M + P log P)."""
    n = len(offsets) - 1
    new_sizes = np.diff(offsets)
    prev_sizes = prev.sizes
    i, j, o = overlaps(prev, members, offsets)
    pid = prev.ids[j] if len(j) else np.empty(0, np.int64)
    # Parents per new cluster, by (-overlap, id); children counted per previous cluster.
    order = np.lexsort((pid, -o, i))
    parents = pid[order]
    parent_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(i, minlength=n), out=parent_offsets[1:])
    children = np.bincount(j, minlength=len(prev))

    ids = np.full(n, -1, np.int64)
    taken = np.zeros(len(prev), np.bool_)
    eligible = o >= min_share * np.minimum(new_sizes[i], prev_sizes[j]) if len(o) else np.zeros(0, np.bool_)
    for k in np.lexsort((i, pid, -o)).tolist():  # overlap desc, then older id, then new rank
        if eligible[k] and ids[i[k]] < 0 and not taken[j[k]]:
            ids[i[k]] = pid[k]
            taken[j[k]] = True
    inherited = ids >= 0
    fresh = np.flatnonzero(~inherited)
    ids[fresh] = next_id + np.arange(len(fresh))
    next_id += len(fresh)

    n_parents = np.diff(parent_offsets)
    events = np.full(n, BORN, np.uint8)
    events[n_parents >= 2] = MERGED
    single = np.flatnonzero(n_parents == 1)
    if len(single):
        only = j[order][parent_offsets[single]]  # the one parent's index in prev
        split = children[only] >= 2
        events[single[split]] = SPLIT
        kept = single[~split & inherited[single]]
        before = prev_sizes[j[order][parent_offsets[kept]]]
        events[kept] = np.where(new_sizes[kept] > before, GREW, np.where(new_sizes[kept] < before, SHRANK, STEADY))

    gone = np.flatnonzero(~taken)
    ended = prev.ids[gone]
    # Where each ended cluster went: the new ids it shares accounts with, by (-overlap, id).
    ended_pos = np.full(len(prev), -1, np.int64)
    ended_pos[gone] = np.arange(len(gone))
    sel = np.flatnonzero(ended_pos[j] >= 0) if len(j) else np.empty(0, np.int64)
    e, new_id = ended_pos[j[sel]], ids[i[sel]]
    go = np.lexsort((new_id, -o[sel], e))
    into_offsets = np.zeros(len(gone) + 1, np.int64)
    np.cumsum(np.bincount(e, minlength=len(gone)), out=into_offsets[1:])
    return Match(ids, events, parents, parent_offsets, ended, new_id[go], into_offsets, next_id)
