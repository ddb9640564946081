"""Compact encoding of windows and clusters for storage, and the JSON shapes of docs/api.md.

Backend-neutral: the SQLite and PostgreSQL stores both encode with it and assemble their read model with it, so
the two answer every read with the same JSON from the same stored bytes.

A window's listed clusters are stored together as three blobs: their sizes (``int32``, rank order), their
members as little-endian ``int32`` *store account ids* (cluster after cluster, ascending vertex id inside), and
their spanning-tree edges as pairs of *member indices* within each cluster — ``uint16`` when every cluster has
at most 65,536 members (every real window but rolling-mode giants), else ``int32``; the width is implied by the
sizes, so no tag byte is needed. A 100-member cluster costs 4 + 400 + 396 bytes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.engine.types import Window
from networkpulse.errors import PulseError

Json = dict[str, Any]
MEMBER_DTYPE = np.dtype("<i4")
_SMALL_EDGE_DTYPE = np.dtype("<u2")
_SMALL_LIMIT = 1 << 16

WINDOW_COLUMNS = (
    "id, start_ms, end_ms, events, interactions, vertices, edges, components, largest, late_events, "
    "n_clusters, provisional"
)
_SUMMARY_KEYS = ("events", "interactions", "vertices", "edges", "components", "largest", "late_events")


def edge_dtype(largest: int) -> np.dtype[Any]:
    """Width of a window's stored member-index pairs, from its largest listed cluster alone."""
    return _SMALL_EDGE_DTYPE if largest <= _SMALL_LIMIT else MEMBER_DTYPE


def iso(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, second precision) for epoch milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Rows ready for ``executemany``; membership columns sorted by (account, window) for b-tree locality."""

    window_rows: list[tuple[int, ...]]
    cluster_rows: list[tuple[int, bytes, bytes, bytes]]
    member_account: npt.NDArray[np.int32]
    member_window: npt.NDArray[np.int64]
    member_rank: npt.NDArray[np.int32]


def encode_batch(
    windows: Sequence[Window], first_id: int, account_of: npt.NDArray[np.int32], provisional_from: int | None = None
) -> EncodedBatch:
    """Encode ``windows`` (ids ``first_id, first_id+1, …``), mapping vertex ids through ``account_of``; windows
    from index ``provisional_from`` on are marked provisional.

    Vectorised over the whole batch: one ``searchsorted`` turns every edge endpoint of every cluster into a
    member index, so Python only loops once per cluster (to slice blobs), never per member or edge.
    O(M log M) for M members plus edge endpoints in the batch. Raises :class:`PulseError` if a vertex id has
    no login or an edge endpoint is not a member of its cluster (an engine bug we refuse to persist).
    """
    window_rows = [
        (
            first_id + i,
            w.start_ms,
            w.end_ms,
            w.events,
            w.interactions,
            w.vertices,
            w.edges,
            w.components,
            w.largest,
            w.late_events,
            w.n_clusters,
            int(provisional_from is not None and i >= provisional_from),
        )
        for i, w in enumerate(windows)
    ]
    per_window = np.fromiter((w.n_clusters for w in windows), np.int64, len(windows))
    n_clusters = int(per_window.sum())
    if not n_clusters:
        empty = np.empty(0, np.int32)
        return EncodedBatch(window_rows, [], empty, np.empty(0, np.int64), empty)

    # The engine's columnar clusters, concatenated over the batch: no Python per member, edge or cluster here.
    sizes = np.concatenate([np.diff(w.offsets) for w in windows])
    n_edges = sizes - 1
    members = np.concatenate([w.members for w in windows]).astype(np.int64, copy=False)
    edges = np.concatenate([np.asarray(w.tree_edges).reshape(-1, 2) for w in windows]).astype(np.int64)
    if len(edges) != int(n_edges.sum()):
        raise PulseError("store write: a window's tree edges do not number size - 1 per cluster")
    cluster_window = np.repeat(np.arange(len(windows), dtype=np.int64), per_window)
    cluster_rank = np.arange(n_clusters, dtype=np.int64) - np.repeat(np.cumsum(per_window) - per_window, per_window)
    if members.size and (members.min() < 0 or members.max() >= len(account_of)):
        raise PulseError(
            f"store write: a cluster member vertex id is outside the logins table (0..{len(account_of) - 1});"
            " "
            "pass the interner's whole, current login list"
        )

    # Key = (cluster ordinal, vertex id) packed in an int64: members are sorted inside each cluster and
    # clusters follow each other, so the keys are globally sorted and one searchsorted resolves every
    # edge endpoint.
    ordinal = np.repeat(np.arange(n_clusters, dtype=np.int64), sizes)
    keys = (ordinal << 32) | members
    edge_ord = np.repeat(np.arange(n_clusters, dtype=np.int64), n_edges)[:, None]
    edge_keys = (edge_ord << 32) | edges
    pos = np.searchsorted(keys, edge_keys)
    pos_ok = np.minimum(pos, len(keys) - 1)
    if edges.size and (not keys.size or not np.array_equal(keys[pos_ok], edge_keys)):
        raise PulseError("store write: a cluster edge joins a vertex that is not a member of that cluster")
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    local = pos - starts[edge_ord]

    accounts = account_of[members].astype(MEMBER_DTYPE, copy=False)
    # One row per window with clusters: Python loops once per window here, never per cluster.
    cluster_rows = []
    c0 = m0 = e0 = 0
    for i, count in enumerate(per_window.tolist()):
        if not count:
            continue
        size = sizes[c0 : c0 + count]
        m1 = m0 + int(size.sum())
        e1 = e0 + m1 - m0 - count
        width = edge_dtype(int(size[0]))  # clusters are largest first
        cluster_rows.append(
            (first_id + i, size.astype(MEMBER_DTYPE).tobytes(), accounts[m0:m1].tobytes(),
             local[e0:e1].astype(width).tobytes())
        )
        c0, m0, e0 = c0 + count, m1, e1

    member_window = np.repeat(cluster_window + first_id, sizes)
    member_rank = np.repeat(cluster_rank.astype(np.int32), sizes)
    # Inserting in primary-key order turns random b-tree probes into mostly sequential page touches.
    order = np.lexsort((member_window, accounts))
    return EncodedBatch(window_rows, cluster_rows, accounts[order], member_window[order], member_rank[order])


def decode_members(blob: bytes) -> npt.NDArray[np.int32]:
    """Account ids of a stored window's clusters, zero-copy. O(1)."""
    return np.frombuffer(blob, MEMBER_DTYPE)


@dataclass(frozen=True, slots=True)
class StoredClusters:
    """A window's stored clusters, decoded zero-copy; ``cluster(rank)`` slices one out. O(1) per access."""

    sizes: npt.NDArray[np.int32]
    members: npt.NDArray[np.int32]
    edges: npt.NDArray[Any]
    offsets: npt.NDArray[np.int64]

    @classmethod
    def decode(cls, sizes: bytes, members: bytes, edges: bytes) -> StoredClusters:
        size = np.frombuffer(sizes, MEMBER_DTYPE)
        width = edge_dtype(int(size[0])) if len(size) else _SMALL_EDGE_DTYPE
        offsets = np.r_[0, np.cumsum(size, dtype=np.int64)]
        return cls(size, decode_members(members), np.frombuffer(edges, width).reshape(-1, 2), offsets)

    def __len__(self) -> int:
        return len(self.sizes)

    def cluster(self, rank: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[Any]]:
        """Members (account ids) and edges (member-index pairs) of the cluster at ``rank``."""
        lo, hi = int(self.offsets[rank]), int(self.offsets[rank + 1])
        return self.members[lo:hi], self.edges[lo - rank : hi - rank - 1]


def window_summary(row: Sequence[int]) -> Json:
    """``WindowSummary`` from a row of :data:`WINDOW_COLUMNS`."""
    wid, start_ms, end_ms, *counts, n_clusters, provisional = row
    out: Json = {
        "id": wid,
        "start": iso(start_ms),
        "end": iso(end_ms),
        "start_ms": start_ms,
        "end_ms": end_ms,
    }
    out.update(zip(_SUMMARY_KEYS, counts, strict=True))
    out["clusters"] = n_clusters
    out["provisional"] = bool(provisional)
    return out


def encode_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Named arrays as one ``.npz`` blob (no pickles). O(total size)."""
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def decode_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`encode_arrays`; refuses pickled objects."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def cluster_json(rank: int, members: npt.NDArray[np.int32], edges: npt.NDArray[Any], login_of: dict[int, str]) -> Json:
    """``ClusterInWindow``: member logins and edges as member-index pairs. O(size)."""
    return {
        "rank": rank,
        "size": len(members),
        "members": [login_of[a] for a in members.tolist()],
        "edges": edges.tolist(),
    }


def neighbors(account: int, members: npt.NDArray[np.int32], pairs: npt.NDArray[Any]) -> list[int]:
    """Member indices joined to ``account`` by a stored edge of the cluster, ascending. O(size)."""
    me = np.flatnonzero(members == account)
    if me.size == 0 or pairs.size == 0:
        return []
    hits = np.concatenate((pairs[pairs[:, 0] == me[0], 1], pairs[pairs[:, 1] == me[0], 0]))
    return np.unique(hits).tolist()


STATS_DEFAULTS: Json = {
    "events": 0,
    "interactions": 0,
    "kept_events": 0,
    "filtered_events": 0,
    "filtered_share": 0.0,
    "dropped": {},
    "late_events": 0,
    "skipped_lines": 0,
    "windows": 0,
    "events_per_s": 0.0,
    "updated": None,
    "updated_ms": None,
}


#: ``logins_of(member arrays) -> {account id: login}`` for every account in the arrays (one query per call).
LoginLookup = Callable[[list[npt.NDArray[np.int32]]], dict[int, str]]


class LoginCache:
    """Account id → login for the read model: ids never change meaning (accounts are never deleted or renumbered),
    so a cached entry is always valid; the size is bounded by clearing when full (cheap, and rare)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self._limit = limit
        self._cache: dict[int, str] = {}

    def lookup(
        self, member_arrays: list[npt.NDArray[np.int32]], fetch: Callable[[list[int]], Iterable[tuple[int, str]]]
    ) -> dict[int, str]:
        """Logins of every account in ``member_arrays``: cached ones, the rest by one ``fetch(ids)`` call.
        O(unique members). Safe from several threads: a racing clear costs a refetch, never a wrong login."""
        if not member_arrays:
            return {}
        cache = self._cache
        found: dict[int, str] = {}
        missing: list[int] = []
        for a in np.unique(np.concatenate(member_arrays)).tolist():
            login = cache.get(a)
            if login is None:
                missing.append(a)
            else:
                found[a] = login
        if missing:
            fetched = dict(fetch(missing))
            found.update(fetched)
            if len(cache) + len(fetched) > self._limit:
                cache.clear()
            cache.update(fetched)
        return found


def window_details(
    rows: Sequence[Sequence[int]],
    cluster_rows: Iterable[Sequence[Any]],
    max_clusters: int,
    logins_of: LoginLookup,
) -> list[Json]:
    """``WindowDetail`` list for window ``rows`` (of :data:`WINDOW_COLUMNS`, in the order given) from the
    ``(window_id, sizes, members, edges)`` rows of their clusters (rows of other windows are ignored, so a
    caller may fetch an id range). One ``logins_of`` call. O(listed members)."""
    out = {r[0]: {**window_summary(r), "cluster_list": []} for r in rows}
    listed = []
    for wid, *blobs in cluster_rows:
        if wid in out:
            stored = StoredClusters.decode(*blobs)
            listed += [(wid, rank, *stored.cluster(rank)) for rank in range(min(len(stored), max_clusters))]
    login_of = logins_of([c[2] for c in listed])
    for wid, rank, members, edges in listed:
        out[wid]["cluster_list"].append(cluster_json(rank, members, edges, login_of))
    return list(out.values())


def history_entries(hits: Sequence[Sequence[Any]], logins_of: LoginLookup) -> list[Json]:
    """``HistoryEntry`` list from membership hits ``(window_id, account_id, start_ms, end_ms, rank, sizes,
    members, edges)``, in the order given. One ``logins_of`` call. O(hits × cluster size)."""
    found = [(h, StoredClusters.decode(*h[5:]).cluster(h[4])) for h in hits]
    login_of = logins_of([members for _, (members, _) in found])
    history = []
    for (wid, account, start_ms, end_ms, rank, *_), (members, edges) in found:
        member_ids = members.tolist()
        history.append(
            {
                "window_id": wid,
                "start": iso(start_ms),
                "end": iso(end_ms),
                "start_ms": start_ms,
                "end_ms": end_ms,
                "rank": rank,
                "size": len(member_ids),
                "neighbors": [login_of[member_ids[i]] for i in neighbors(account, members, edges)],
                "members": [login_of[a] for a in member_ids],
            }
        )
    return history


def stats_json(stats: Mapping[str, Any]) -> str:
    """The stats document, stamped with ``updated``/``updated_ms`` (write time) unless already set."""
    doc = dict(stats)
    if doc.get("updated_ms") is None:
        doc["updated_ms"] = int(time.time() * 1000)
    if doc.get("updated") is None:
        doc["updated"] = iso(doc["updated_ms"])
    return json.dumps(doc, default=plain_json)


def plain_json(value: object) -> object:
    """``json.dumps(default=…)``: numpy scalars sneak into counters; store them as plain JSON numbers. Anything
    else is a caller bug."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"store stats: {type(value).__name__} is not JSON-serialisable")
