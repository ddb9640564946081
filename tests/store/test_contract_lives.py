"""Contract: clusters with a life (schema v4 SQLite / v2 PostgreSQL) on both stores — annotations written with the
windows come back through every read method, follow the windows through provisional replacement, idempotent
rewrites and retention, and older stores are migrated."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from networkpulse.analytics import EVENTS, AnalyticsConfig, AnalyticsState, annotate
from networkpulse.engine import Interner, WindowConfig, WindowEngine
from networkpulse.errors import PulseError, StoreError
from networkpulse.events import InputReport
from networkpulse.store import open_store
from networkpulse.store.sqlite import SCHEMA_VERSION
from networkpulse.venturi import FilterStats, read_interactions

HOUR = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive" / "2015-01-01-12.json.gz"


@functools.cache
def real():
    """The 2015 hour through the engine (pairs on) and the analytics stage: windows, notes, logins."""
    interner = Interner()
    engine = WindowEngine(WindowConfig(), cluster_pairs=True)
    windows = []
    for b in read_interactions([str(HOUR)], InputReport(), FilterStats()):
        windows += engine.add(interner.ids(b.src), interner.ids(b.dst), b.created_at_ms, b.event_times_ms)
    windows += engine.flush()
    _, notes = annotate(AnalyticsState(), windows, AnalyticsConfig(step_ms=60_000))
    return windows, notes, list(interner.logins)


def test_every_read_agrees_with_the_annotations(url):
    windows, notes, logins = real()
    with open_store(url) as store:
        ids = store.write(windows[:30], logins, {}, analytics=notes[:30])
        ids += store.write(windows[30:], logins, {}, analytics=notes[30:])
        rows = rows_of(store, limit=7)
        assert len(rows) == sum(w.n_clusters for w in windows)
        it = iter(rows)
        for wid, w, n in zip(ids, windows, notes, strict=True):
            for rank, c in enumerate(w.clusters):
                row = next(it)
                assert (row["window_id"], row["rank"]) == (wid, rank)
                assert row["members"] == [logins[v] for v in c.members.tolist()]
                assert row["cluster_id"] == int(n.lineage.ids[rank])
                assert row["event"] == EVENTS[n.lineage.events[rank]]
                po = n.lineage.parent_offsets
                assert row["parents"] == n.lineage.parents[po[rank] : po[rank + 1]].tolist()
                g = nx.Graph()
                lo, hi = w.pair_offsets[rank], w.pair_offsets[rank + 1]
                g.add_edges_from((logins[a], logins[b]) for a, b in w.pairs[lo:hi].tolist())
                assert set(row["articulation_points"]) == set(nx.articulation_points(g))
                assert {tuple(sorted(b)) for b in row["bridges"]} == {tuple(sorted(b)) for b in nx.bridges(g)}
        # No two clusters of a window share an id; an id appears only in consecutive windows of its life.
        seen: dict[int, list[int]] = {}
        for row in rows:
            seen.setdefault(row["cluster_id"], []).append(row["window_id"])
        assert all(len(set(v)) == len(v) and v == list(range(v[0], v[0] + len(v))) for v in seen.values())

        longest = max(seen, key=lambda c: len(seen[c]))
        life = store.cluster_life(longest)
        assert [w["window_id"] for w in life["windows"]] == seen[longest]
        assert life["windows"][0]["event"] in {"born", "split", "merged"} and life["windows"][0]["joined"] == []
        for before, now in zip(life["windows"], life["windows"][1:], strict=False):
            members = {r["window_id"]: set(r["members"]) for r in rows if r["cluster_id"] == longest}
            assert set(now["joined"]) == members[now["window_id"]] - members[before["window_id"]]
            assert set(now["left"]) == members[before["window_id"]] - members[now["window_id"]]
        if life["ended"] is not None:
            assert life["ended"]["window_id"] == seen[longest][-1] + 1
        assert store.cluster_life(10**9) is None

        wid = seen[longest][len(seen[longest]) // 2]
        rank = next(r["rank"] for r in rows if r["window_id"] == wid and r["cluster_id"] == longest)
        brokers = store.cluster_brokers(wid, rank)
        g = nx.Graph()
        pairs = next(r for r in rows if r["window_id"] == wid and r["rank"] == rank)
        w = windows[ids.index(wid)]
        lo, hi = w.pair_offsets[rank], w.pair_offsets[rank + 1]
        g.add_edges_from((logins[a], logins[b]) for a, b in w.pairs[lo:hi].tolist())
        bc = nx.betweenness_centrality(g)
        assert brokers["pairs"] == g.number_of_edges() and set(brokers["articulation_points"]) == set(
            pairs["articulation_points"])
        for m in brokers["members"]:
            assert m["degree"] == g.degree(m["login"]) and m["betweenness"] == pytest.approx(bc[m["login"]], abs=1e-6)
        assert store.cluster_brokers(wid, 10**6) is None and store.cluster_brokers(10**9, 0) is None

        top = brokers["members"][0]["login"]
        influence = store.login_influence(top.upper(), limit=100)
        assert influence and influence[0]["window_id"] > influence[-1]["window_id"]
        here = next(x for x in influence if x["window_id"] == wid)
        assert here["degree"] == g.degree(top) and here["cluster_id"] == longest

        recs = store.recommendations(top, k=5)
        assert recs is not None and len(recs["recommendations"]) <= 5
        partners = set(g.neighbors(top))
        assert not partners & {r["login"] for r in recs["recommendations"]}
        assert store.recommendations("nobody-at-all") is None

        lineage = store.window_lineage(wid)
        want = [r["cluster_id"] for r in rows if r["window_id"] == wid]
        assert [c["cluster_id"] for c in lineage["clusters"]] == want
        growing = store.growing_clusters(wid)
        assert all(c["trend"] == "growing" for c in growing["clusters"])
        slopes = [c["slope"] for c in growing["clusters"]]
        assert slopes == sorted(slopes, reverse=True)
        bridges = store.bridge_suggestions(wid, clusters=3, k=2)
        n_growing = min(3, len(growing["clusters"]))
        assert len(bridges["suggestions"]) == n_growing * (n_growing - 1) // 2


def test_windows_without_annotations_and_mismatches(backend, url):
    windows, notes, logins = real()
    with open_store(url) as store:
        store.write(windows[:3], logins, {})  # a caller that does not pass analytics
        row = rows_of(store)[0]
        assert row["cluster_id"] is None and row["articulation_points"] is None and row["members"]
        with pytest.raises(PulseError, match="annotations for"):
            store.write(windows[3:5], logins, {}, analytics=notes[3:4])
        with pytest.raises(PulseError, match="analytics for window"):
            store.write(windows[3:5], logins, {}, analytics=notes[5:7])
        assert store.max_window_id() == 3 and backend.count(url, "lives") == 0


def test_provisional_rewrites_and_retention_keep_lives_consistent(backend, url):
    windows, notes, logins = real()
    with open_store(url, retention=20) as store:
        store.write(windows[:10], logins, {}, provisional=windows[10:14], analytics=notes[:14])
        # The next run replaces the provisional windows and re-sends some stored ones: no key collides.
        store.write(windows[5:30], logins, {}, provisional=windows[30:32], analytics=notes[5:32])
        kept = [w["id"] for w in store.windows(limit=100)]
        assert len(kept) == 20
        n_lives = sum(len(n.lineage.ids) + len(n.lineage.ended) for n in notes[12:32])
        assert backend.count(url, "lives") == n_lives
        assert backend.count(url, "analytics") == 20
        rows = rows_of(store)
        assert {r["window_id"] for r in rows} <= set(kept)
        assert [r["cluster_id"] for r in rows] == [c for n in notes[12:32] for c in n.lineage.ids.tolist()]
        store.start_over()
        assert backend.count(url, "lives") == backend.count(url, "analytics") == 0


def test_a_v3_sqlite_store_is_migrated(tmp_path):
    windows, notes, logins = real()
    path = tmp_path / "v3.db"
    with open_store(f"sqlite:///{path}") as store:
        store.write(windows[:5], logins, {})
    with sqlite3.connect(path) as con:  # back to what networkpulse wrote before clusters had a life
        con.execute("DROP TABLE analytics")
        con.execute("DROP TABLE lives")
        # v3 and v4 kept one membership row per (account, window): v5's runs back into that table
        con.execute("CREATE TABLE v4_membership (account_id INTEGER NOT NULL, window_id INTEGER NOT NULL, "
                    "rank INTEGER NOT NULL, PRIMARY KEY (account_id, window_id)) WITHOUT ROWID")
        con.execute("INSERT INTO v4_membership SELECT account_id, window_id, 0 FROM membership")
        con.execute("DROP VIEW membership")
        con.execute("DROP TABLE member_runs")
        con.execute("ALTER TABLE v4_membership RENAME TO membership")
        con.execute("PRAGMA user_version = 3")
    with pytest.raises(StoreError, match="older networkpulse"):
        open_store(f"sqlite:///{path}", readonly=True)
    with open_store(f"sqlite:///{path}") as store:
        assert store.write(windows[5:8], logins, {}, analytics=notes[5:8]) == [6, 7, 8]
        rows = rows_of(store)
        assert rows[0]["cluster_id"] is None and rows[-1]["cluster_id"] is not None
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.postgres
def test_a_v1_postgres_store_is_migrated():
    import os

    from tests.store.conftest import POSTGRES_ENV, PostgresBackend

    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is unset")
    pg = PostgresBackend(os.environ[POSTGRES_ENV])
    try:
        url = pg.new_url()
        windows, notes, logins = real()
        with open_store(url) as store:
            store.write(windows[:5], logins, {})
        schema = pg._schemas[url]
        pg._admin.execute(f'DROP TABLE "{schema}".analytics, "{schema}".lives')
        pg.set_version(url, 1)
        with pytest.raises(StoreError, match="older networkpulse"):
            open_store(url, readonly=True)
        with open_store(url) as store:
            assert store.write(windows[5:8], logins, {}, analytics=notes[5:8]) == [6, 7, 8]
            assert rows_of(store)[0]["cluster_id"] is None
            assert rows_of(store, after=5)[0]["cluster_id"] == int(notes[5].lineage.ids[0])
        assert pg.version(url) == 2
    finally:
        pg.close()


def test_pack_round_trips():
    from networkpulse.store.lives import _FIELDS, pack, unpack

    arrays = {name: np.arange(i, dtype=dtype) for i, (name, dtype) in enumerate(_FIELDS)}
    back = unpack(pack(arrays))
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())


def rows_of(store, *, after: int = 0, limit: int = 50) -> list[dict]:
    """Every stored cluster after window ``after`` as one flat row (window fields + cluster fields), paging."""
    rows = []
    while page := store.window_clusters(after, limit=limit):
        rows += [{"window_id": w["window_id"], "start_ms": w["start_ms"], "end_ms": w["end_ms"],
                  "provisional": w["provisional"], **c} for w in page for c in w["clusters"]]
        after = page[-1]["window_id"]
    return rows
