"""Clusters with a life in the store (schema v4 SQLite / v2 PostgreSQL): the analytics stage's annotations,
their compact encoding, and the read methods of both backends (JSON-ready dicts, shapes in docs/analytics.md).

Per window with listed clusters, one ``analytics`` row holds one blob (:func:`pack`): per cluster its id, event,
parents, activity, slope and trend; the clusters that ended in the window and what they went into; and, when
the engine gave the window's pairs, every distinct pair inside each cluster (member-index pairs, as the
spanning-tree edges), its pane count, an articulation flag per member and the bridges. Degree and betweenness
are derived from the stored pairs when read (betweenness costs O(V·E) per cluster: the write path never pays
it). One ``lives`` row per (cluster id, window) — rank and event, ``rank = -1`` for the window a cluster ended
in — makes a cluster's life one index range scan.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.analytics import EVENTS, TRENDS, WindowAnalytics
from networkpulse.analytics.brokers import betweenness, graph
from networkpulse.analytics.momentum import adjacency, bridge_suggestions
from networkpulse.analytics.recommend import recommend
from networkpulse.engine.types import Window
from networkpulse.errors import PulseError
from networkpulse.store.codec import WINDOW_COLUMNS, Json, StoredClusters, window_summary
from networkpulse.store.reads import ReadModel

ENDED = 255  # the lives.event code of the window a cluster ended in
_FIELDS = (
    ("ids", "<i8"), ("events", "u1"), ("parent_counts", "<i4"), ("parents", "<i8"),
    ("ended", "<i8"), ("into_counts", "<i4"), ("into", "<i8"),
    ("activity", "<i8"), ("slope", "<f8"), ("trend", "i1"),
    ("pair_counts", "<i4"), ("pairs", "<i4"), ("pair_panes", "<i4"),
    ("articulation", "u1"), ("bridge_counts", "<i4"), ("bridges", "<i4"),
)  # fmt: skip


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    """The fields of :data:`_FIELDS` as one blob: the field count and each field's element count (int64), then
    each field's little-endian bytes. Readers ignore fields past those they know (later versions append). O(size)."""
    parts = [np.ascontiguousarray(arrays[name], dtype) for name, dtype in _FIELDS]
    head = np.array([len(parts), *(p.size for p in parts)], "<i8")
    return head.tobytes() + b"".join(p.tobytes() for p in parts)


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`pack`, zero-copy. O(fields)."""
    n = int(np.frombuffer(blob, "<i8", 1)[0])
    counts = np.frombuffer(blob, "<i8", n, 8).tolist()
    at, out = 8 * (n + 1), {}
    for (name, dtype), count in zip(_FIELDS, counts, strict=False):
        out[name] = np.frombuffer(blob, dtype, count, at)
        at += out[name].nbytes
    return out


@dataclass(frozen=True, slots=True)
class EncodedAnalytics:
    rows: list[tuple[int, bytes]]  # (window_id, blob)
    lives: list[tuple[int, int, int, int]]  # (cluster_id, window_id, rank, event), primary-key order


def encode(windows: Sequence[Window], notes: Sequence[WindowAnalytics | None], first_id: int) -> EncodedAnalytics:
    """Rows for ``windows`` (ids from ``first_id``) annotated by ``notes`` (None: no annotation for that window).
    Raises :class:`PulseError` when a note belongs to another window. O(members + pairs) per window, no Python
    per member or pair."""
    rows, lives = [], []
    for k, (w, n) in enumerate(zip(windows, notes, strict=True)):
        if n is None:
            continue
        if (n.start_ms, n.end_ms) != (w.start_ms, w.end_ms) or len(n.lineage.ids) != w.n_clusters:
            raise PulseError(
                f"store write: analytics for window [{n.start_ms}, {n.end_ms}) given with window [{w.start_ms}, "
                f"{w.end_ms}) ({len(n.lineage.ids)} vs {w.n_clusters} clusters); pass one annotation per window, in "
                "the order of windows then provisional"
            )
        m, wid = n.lineage, first_id + k
        if not w.n_clusters and not len(m.ended):
            continue
        arrays: dict[str, np.ndarray] = {
            "ids": m.ids, "events": m.events, "parent_counts": np.diff(m.parent_offsets), "parents": m.parents,
            "ended": m.ended, "into_counts": np.diff(m.into_offsets), "into": m.into,
            "activity": n.activity, "slope": n.slope, "trend": n.trend,
        }
        empty = np.empty(0, np.int32)
        arrays.update(pair_counts=empty, pairs=empty, pair_panes=empty, articulation=empty, bridge_counts=empty,
                      bridges=empty)
        if n.edges is not None and n.edge_offsets is not None and n.bridges is not None \
                and n.bridge_offsets is not None:
            base = w.offsets[:-1]
            owner = np.repeat(np.arange(w.n_clusters), np.diff(n.edge_offsets))
            bowner = np.repeat(np.arange(w.n_clusters), np.diff(n.bridge_offsets))
            arrays.update(
                pair_counts=np.diff(n.edge_offsets), pairs=n.edges - base[owner][:, None], pair_panes=n.edge_panes,
                articulation=n.articulation, bridge_counts=np.diff(n.bridge_offsets),
                bridges=n.bridges - base[bowner][:, None],
            )
        rows.append((wid, pack(arrays)))
        lives += [(c, wid, r, e) for r, (c, e) in enumerate(zip(m.ids.tolist(), m.events.tolist(), strict=True))]
        lives += [(c, wid, -1, ENDED) for c in m.ended.tolist()]
    lives.sort()
    return EncodedAnalytics(rows, lives)


def notes_for(
    windows: Sequence[Window], provisional: Sequence[Window], analytics: Sequence[WindowAnalytics | None] | None,
    batch: Sequence[Window],
) -> list[WindowAnalytics | None]:
    """The annotation of each window of ``batch`` (the windows a write stores: the new final ones, then the
    provisional ones), from ``analytics`` given for ``[*windows, *provisional]``. Raises :class:`PulseError` when
    the counts differ. O(windows)."""
    if analytics is None:
        return [None] * len(batch)
    given = [*windows, *provisional]
    if len(analytics) != len(given):
        raise PulseError(
            f"store write: {len(analytics)} analytics annotations for {len(given)} windows; pass one per window "
            "(windows, then provisional), or none"
        )
    of = {id(w): n for w, n in zip(given, analytics, strict=True)}
    return [of[id(w)] for w in batch]


def life_keys(blobs: Sequence[tuple[int, bytes]]) -> list[tuple[int, int]]:
    """The ``lives`` primary keys of stored analytics rows ``(window_id, blob)``, in key order (deletes)."""
    keys = []
    for wid, blob in blobs:
        a = unpack(blob)
        keys += [(c, wid) for c in (*a["ids"].tolist(), *a["ended"].tolist())]
    return sorted(keys)


class Annotated:
    """One window's stored clusters with their decoded annotations; per-rank accessors are O(1) slices."""

    def __init__(self, clusters: StoredClusters, blob: bytes | None) -> None:
        self.clusters = clusters
        self.a = unpack(blob) if blob is not None else None
        if self.a is not None:
            self._po = np.r_[0, np.cumsum(self.a["parent_counts"], dtype=np.int64)]
            self._io = np.r_[0, np.cumsum(self.a["into_counts"], dtype=np.int64)]
            self.has_pairs = len(self.a["pair_counts"]) == len(clusters)
            self._pp = np.r_[0, np.cumsum(self.a["pair_counts"], dtype=np.int64)]
            self._bo = np.r_[0, np.cumsum(self.a["bridge_counts"], dtype=np.int64)]
        else:
            self.has_pairs = False

    def cluster_id(self, rank: int) -> int | None:
        return int(self.a["ids"][rank]) if self.a is not None else None

    def lineage(self, rank: int) -> Json:
        """``cluster_id``, ``event``, ``parents``, ``activity``, ``slope``, ``trend`` (None without analytics)."""
        a = self.a
        if a is None:
            return {"cluster_id": None, "event": None, "parents": [], "activity": None, "slope": None, "trend": None}
        return {
            "cluster_id": int(a["ids"][rank]),
            "event": EVENTS[int(a["events"][rank])],
            "parents": a["parents"][self._po[rank] : self._po[rank + 1]].tolist(),
            "activity": int(a["activity"][rank]),
            "slope": round(float(a["slope"][rank]), 4),
            "trend": TRENDS[int(a["trend"][rank])],
        }

    def ended(self) -> list[Json]:
        if self.a is None:
            return []
        return [{"cluster_id": int(c), "into": self.a["into"][self._io[k] : self._io[k + 1]].tolist()}
                for k, c in enumerate(self.a["ended"].tolist())]

    def pairs(self, rank: int) -> npt.NDArray[np.int32] | None:
        """Member-index pairs of cluster ``rank`` (None when the window was stored without pairs)."""
        if not self.has_pairs or self.a is None:
            return None
        return self.a["pairs"].reshape(-1, 2)[self._pp[rank] : self._pp[rank + 1]]

    def brokers(self, rank: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]] | None:
        """Articulation flags per member and bridges (member-index pairs) of cluster ``rank``, or None."""
        if not self.has_pairs or self.a is None:
            return None
        lo, hi = int(self.clusters.offsets[rank]), int(self.clusters.offsets[rank + 1])
        return (self.a["articulation"][lo:hi].astype(bool),
                self.a["bridges"].reshape(-1, 2)[self._bo[rank] : self._bo[rank + 1]])

    def centrality(self, rank: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        """Degree and normalised betweenness per member of cluster ``rank`` from its stored pairs, or None.
        O(V·E) for the betweenness (NaN past ``BETWEENNESS_LIMIT`` members)."""
        pairs = self.pairs(rank)
        if pairs is None:
            return None
        size = int(self.clusters.sizes[rank])
        g = graph(np.array([0, size], np.int64), pairs.astype(np.int64))
        return g.degree, betweenness(g, 0)


class LivesReads(ReadModel):
    """The read methods over clusters' lives, shared by both stores, on the hooks of
    :class:`~networkpulse.store.reads.ReadModel`."""

    # -- helpers -------------------------------------------------------------------------------------------

    def _annotated(self, con: Any, lo: int, hi: int) -> dict[int, tuple[tuple[Any, ...], Annotated]]:
        """Window row and annotated clusters of every stored window with lo <= id <= hi. Three queries."""
        windows = self._rows(con, f"SELECT {WINDOW_COLUMNS} FROM windows WHERE id BETWEEN ? AND ?", (lo, hi))
        clusters = {r[0]: r[1:] for r in self._rows(
            con, "SELECT window_id, sizes, members, edges FROM clusters WHERE window_id BETWEEN ? AND ?", (lo, hi))}
        blobs = dict(self._rows(con, "SELECT window_id, data FROM analytics WHERE window_id BETWEEN ? AND ?", (lo, hi)))
        empty = (b"", b"", b"")
        return {w[0]: (w, Annotated(StoredClusters.decode(*clusters.get(w[0], empty)), blobs.get(w[0])))
                for w in windows}

    def _latest_annotated(self, con: Any, window_id: int | None) -> int | None:
        if window_id is not None:
            return window_id
        row = self._rows(con, "SELECT max(window_id) FROM analytics", ())
        return row[0][0] if row and row[0][0] is not None else None

    # -- reads ---------------------------------------------------------------------------------------------

    def window_lineage(self, window_id: int) -> Json | None:
        """``{"window", "clusters": [{rank, size, cluster_id, event, parents, activity, slope, trend}], "ended":
        [{cluster_id, into}]}`` for one window, or None if it is not stored. O(log n + its clusters)."""
        with self._snapshot() as con:
            found = self._annotated(con, window_id, window_id).get(window_id)
        if found is None:
            return None
        row, ann = found
        clusters = [{"rank": r, "size": int(ann.clusters.sizes[r]), **ann.lineage(r)} for r in range(len(ann.clusters))]
        return {"window": window_summary(row), "clusters": clusters, "ended": ann.ended()}

    def cluster_lineage(self, lo: int, hi: int, *, max_clusters: int | None = None) -> dict[int, list[Json]]:
        """Per annotated window with ``lo <= id <= hi``, its clusters' ``{cluster_id, event, parents, trend}`` by
        rank, the first ``max_clusters`` of them (all if None): the live feed and window details carry them;
        windows stored without analytics are absent. One query on the analytics blobs, no members read;
        O(listed clusters of those windows)."""
        with self._snapshot(atomic=False) as con:
            blobs = self._rows(con, "SELECT window_id, data FROM analytics WHERE window_id BETWEEN ? AND ?", (lo, hi))
        out: dict[int, list[Json]] = {}
        for wid, blob in blobs:
            a = unpack(bytes(blob))
            n = len(a["ids"]) if max_clusters is None else min(len(a["ids"]), max(0, max_clusters))
            cut = [0, *itertools.accumulate(a["parent_counts"][:n].tolist())]  # np.r_ costs more at this size
            parents = a["parents"][: cut[-1]].tolist()
            rows = zip(a["ids"][:n].tolist(), a["events"][:n].tolist(), a["trend"][:n].tolist(), strict=True)
            out[wid] = [
                {"cluster_id": c, "event": EVENTS[e], "parents": parents[cut[r] : cut[r + 1]], "trend": TRENDS[t]}
                for r, (c, e, t) in enumerate(rows)
            ]
        return out

    def cluster_life(self, cluster_id: int, *, limit: int = 500) -> Json | None:
        """A cluster's life, oldest first, its newest ``limit`` windows: ``{"cluster_id", "windows": [{window_id,
        start, end, start_ms, end_ms, provisional, rank, size, event, parents, split_off, joined, left, activity,
        slope, trend, articulation_points}], "ended": {window_id, start, end, into} | None}``. ``joined``/``left``:
        logins against the previous window of the life (empty on the first); ``split_off``: ids that split away
        from it in that window. None if the id was never stored. O(log n + its windows' members)."""
        with self._snapshot() as con:
            hits = self._rows(con, "SELECT window_id, rank FROM lives WHERE cluster_id = ? ORDER BY window_id DESC "
                                   "LIMIT ?", (cluster_id, max(1, limit) + 1))
            if not hits:
                return None
            hits = sorted(hits)[-(max(1, limit) + 1):]
            data = self._annotated(con, hits[0][0], hits[-1][0])
            found = [(wid, rank, *data[wid]) for wid, rank in hits if wid in data]
            login_of = self._logins(con, [ann.clusters.cluster(rank)[0] for _, rank, _, ann in found if rank >= 0])
        out: Json = {"cluster_id": cluster_id, "windows": [], "ended": None}
        before: set[str] | None = None
        for wid, rank, row, ann in found:
            summary = window_summary(row)
            when = {k: summary[k] for k in ("start", "end", "start_ms", "end_ms", "provisional")}
            if rank < 0:
                into = next((e["into"] for e in ann.ended() if e["cluster_id"] == cluster_id), [])
                out["ended"] = {"window_id": wid, **when, "into": into}
                continue
            members = [login_of[a] for a in ann.clusters.cluster(rank)[0].tolist()]
            now = set(members)
            lineage = ann.lineage(rank)
            split_off = [c["cluster_id"] for r in range(len(ann.clusters)) if r != rank
                         for c in [ann.lineage(r)] if c["event"] == "split" and c["parents"] == [cluster_id]]
            cut = ann.brokers(rank)
            out["windows"].append({
                "window_id": wid, **when, "rank": rank, "size": len(members), **lineage, "split_off": split_off,
                "joined": sorted(now - before) if before is not None else [],
                "left": sorted(before - now) if before is not None else [],
                "articulation_points": [members[i] for i in np.flatnonzero(cut[0]).tolist()] if cut else None,
            })
            before = now
        out["windows"] = out["windows"][-max(1, limit):]
        return out

    def cluster_brokers(self, window_id: int, rank: int) -> Json | None:
        """Who holds cluster ``rank`` of a window together: ``{"window", "rank", "cluster_id", "size", "pairs",
        "articulation_points", "bridges" (login pairs), "members": [{login, degree, betweenness, articulation}]
        (by betweenness, then degree, most first)}``; ``pairs`` is None and the lists empty when the window was
        stored without pairs. None if not stored. O(V·E) of that cluster (betweenness)."""
        with self._snapshot() as con:
            found = self._annotated(con, window_id, window_id).get(window_id)
            if found is None or not 0 <= rank < len(found[1].clusters):
                return None
            row, ann = found
            members = ann.clusters.cluster(rank)[0]
            login_of = self._logins(con, [members])
        names = [login_of[a] for a in members.tolist()]
        out: Json = {"window": window_summary(row), "rank": rank, "cluster_id": ann.cluster_id(rank),
                     "size": len(names), "pairs": None, "articulation_points": [], "bridges": [], "members": []}
        cut, central, pairs = ann.brokers(rank), ann.centrality(rank), ann.pairs(rank)
        if cut is None or central is None or pairs is None:
            return out
        degree, between = central
        out["pairs"] = len(pairs)
        out["articulation_points"] = [names[i] for i in np.flatnonzero(cut[0]).tolist()]
        out["bridges"] = [[names[a], names[b]] for a, b in cut[1].tolist()]
        rows = [{"login": n, "degree": int(d), "betweenness": None if np.isnan(b) else round(float(b), 6),
                 "articulation": bool(f)} for n, d, b, f in zip(names, degree.tolist(), between.tolist(), cut[0],
                                                                 strict=True)]
        out["members"] = sorted(rows, key=lambda m: (-(m["betweenness"] or 0.0), -m["degree"], m["login"]))
        return out

    def _memberships(self, con: Any, login: str, limit: int) -> list[tuple[int, int, int]]:
        """``(window_id, rank, account_id)`` of the login's newest ``limit`` memberships, newest first."""
        hits: list[tuple[int, int, int]] = []
        for account in self._accounts(con, login):
            hits += [(w, r, account) for w, r in self._rows(
                con, "SELECT window_id, rank FROM membership WHERE account_id = ? ORDER BY window_id DESC LIMIT ?",
                (account, limit))]
        return sorted(hits, reverse=True)[:limit]

    def login_influence(self, login: str, *, limit: int = 50) -> list[Json]:
        """How ``login``'s standing in its clusters developed, newest first: ``[{window_id, start, end, start_ms,
        end_ms, cluster_id, rank, size, degree, betweenness, articulation}]`` over its newest ``limit`` windows
        (degree and the rest None where the window was stored without pairs). O(limit × V·E of its clusters)."""
        limit = max(0, limit)
        with self._snapshot() as con:
            hits = self._memberships(con, login, limit)
            data = self._annotated(con, hits[-1][0], hits[0][0]) if hits else {}
        out = []
        for wid, rank, account in hits:
            if wid not in data:
                continue
            row, ann = data[wid]
            members = ann.clusters.cluster(rank)[0]
            me = int(np.flatnonzero(members == account)[0])  # account ids need not ascend with vertex ids
            central, cut = ann.centrality(rank), ann.brokers(rank)
            summary = window_summary(row)
            out.append({
                "window_id": wid, **{k: summary[k] for k in ("start", "end", "start_ms", "end_ms")},
                "cluster_id": ann.cluster_id(rank), "rank": rank, "size": len(members),
                "degree": int(central[0][me]) if central else None,
                "betweenness": (None if central is None or np.isnan(central[1][me])
                                else round(float(central[1][me]), 6)),
                "articulation": bool(cut[0][me]) if cut else None,
            })
        return out

    def recommendations(self, login: str, *, windows: int = 10, k: int = 10) -> Json | None:
        """People ``login`` is likely to interact with next: Adamic–Adar over the pairs of the clusters it was in
        during its newest ``windows`` stored windows, filled by the most active accounts of that neighbourhood
        (:mod:`networkpulse.analytics.recommend`); current partners excluded. ``{"login", "windows": [ids],
        "recommendations": [{login, score, via: [common partners]}]}``; None if the login was never in a stored
        cluster. O(pairs of those clusters)."""
        with self._snapshot() as con:
            hits = self._memberships(con, login, max(1, windows))
            if not hits:
                return None
            data = self._annotated(con, hits[-1][0], hits[0][0])
            edges = []
            for wid, rank, _ in hits:
                ann = data[wid][1] if wid in data else None
                pairs = ann.pairs(rank) if ann is not None else None
                if ann is not None and pairs is not None:
                    edges.append(ann.clusters.cluster(rank)[0][pairs.reshape(-1, 2)])
            adj = adjacency(np.concatenate(edges) if edges else np.empty((0, 2), np.int64))
            me = hits[0][2]
            got = recommend(adj, me, max(0, k))
            via = {v: sorted(adj.get(me, set()) & adj.get(v, set())) for v, _ in got}
            login_of = self._logins(con, [np.array([me, *[v for v, _ in got], *(x for vs in via.values() for x in vs)],
                                                   np.int32)])
        return {"login": login_of[me], "windows": sorted({w for w, _, _ in hits}),
                "recommendations": [{"login": login_of[v], "score": round(s, 6), "via": [login_of[x] for x in via[v]]}
                                    for v, s in got]}

    def growing_clusters(self, window_id: int | None = None, *, limit: int = 20) -> Json | None:
        """The growing clusters of a window (default: the newest annotated one), steepest first: ``{"window",
        "clusters": [{rank, size, cluster_id, event, parents, activity, slope, trend}]}``; None if there is no
        such window. O(its clusters)."""
        with self._snapshot() as con:
            wid = self._latest_annotated(con, window_id)
            found = self._annotated(con, wid, wid).get(wid) if wid is not None else None
        if found is None:
            return None
        row, ann = found
        rows = [{"rank": r, "size": int(ann.clusters.sizes[r]), **ann.lineage(r)} for r in range(len(ann.clusters))]
        growing = sorted((c for c in rows if c["trend"] == "growing"), key=lambda c: (-c["slope"], c["rank"]))
        return {"window": window_summary(row), "clusters": growing[: max(0, limit)]}

    def bridge_suggestions(
        self, window_id: int | None = None, *, clusters: int = 4, k: int = 3, history: int = 10
    ) -> Json | None:
        """Who could join two growing clusters of a window (default: the newest annotated one): for each pair
        of its ``clusters`` steepest growing clusters, the ``k`` best account pairs by
        :func:`~networkpulse.analytics.momentum.bridge_suggestions`, with the pairs of the newest ``history``
        windows as evidence. ``{"window", "suggestions": [{"clusters": [id, id], "pairs": [{a, b, score}]}]}``.
        O(pairs of those windows + clusters² × their sizes)."""
        with self._snapshot() as con:
            wid = self._latest_annotated(con, window_id)
            if wid is None:
                return None
            data = self._annotated(con, max(0, wid - max(0, history)), wid)
            if wid not in data:
                return None
            row, ann = data[wid]
            growing = [r for r in range(len(ann.clusters)) if ann.lineage(r)["trend"] == "growing"]
            growing = sorted(growing, key=lambda r: -ann.lineage(r)["slope"])[: max(0, clusters)]
            past = [w.clusters.cluster(r)[0][p.reshape(-1, 2)] for _, w in data.values()
                    for r in range(len(w.clusters)) if (p := w.pairs(r)) is not None]
            hist = adjacency(np.concatenate(past) if past else np.empty((0, 2), np.int64))
            suggestions, wanted = [], []
            for x, ra in enumerate(growing):
                for rb in growing[x + 1 :]:
                    a, b = ann.clusters.cluster(ra)[0].tolist(), ann.clusters.cluster(rb)[0].tolist()
                    degree = {v: len(hist.get(v, ())) for v in (*a, *b)}
                    got = bridge_suggestions(a, b, hist, degree, max(0, k))
                    suggestions.append(((ann.cluster_id(ra), ann.cluster_id(rb)), got))
                    wanted += [u for u, _, _ in got] + [v for _, v, _ in got]
            login_of = self._logins(con, [np.array(wanted, np.int32)]) if wanted else {}
        return {"window": window_summary(row), "suggestions": [
            {"clusters": list(ids), "pairs": [{"a": login_of[u], "b": login_of[v], "score": round(s, 6)}
                                              for u, v, s in got]} for ids, got in suggestions]}

    def window_clusters(self, after: int = 0, *, limit: int = 100) -> list[Json]:
        """The ``limit`` windows with id > ``after``, oldest first, each with every stored cluster's life data
        (``pulse export clusters``, live frames): ``[{window_id, start, end, start_ms, end_ms, provisional,
        "ended": [{cluster_id, into}], "clusters": [{rank, size, cluster_id, event, parents, activity, slope, trend,
        members, articulation_points, bridges}]}]``. Ids, events and brokers are None for windows stored without
        analytics; brokers are None for windows stored without pairs. O(those windows' members)."""
        with self._snapshot() as con:
            ids = [r[0] for r in self._rows(con, "SELECT id FROM windows WHERE id > ? ORDER BY id LIMIT ?",
                                            (after, max(0, limit)))]
            data = self._annotated(con, ids[0], ids[-1]) if ids else {}
            login_of = self._logins(con, [ann.clusters.members for _, ann in data.values()])
        out = []
        for wid in ids:
            row, ann = data[wid]
            summary = window_summary(row)
            clusters = []
            for r in range(len(ann.clusters)):
                members = [login_of[a] for a in ann.clusters.cluster(r)[0].tolist()]
                cut = ann.brokers(r)
                clusters.append({
                    "rank": r, "size": len(members), **ann.lineage(r), "members": members,
                    "articulation_points": [members[i] for i in np.flatnonzero(cut[0]).tolist()] if cut else None,
                    "bridges": [[members[a], members[b]] for a, b in cut[1].tolist()] if cut else None,
                })
            out.append({"window_id": wid, **{k: summary[k] for k in ("start", "end", "start_ms", "end_ms",
                                                                      "provisional")},
                        "ended": ann.ended(), "clusters": clusters})
        return out


__all__ = ["ENDED", "Annotated", "EncodedAnalytics", "LivesReads", "encode", "life_keys", "pack", "unpack"]
