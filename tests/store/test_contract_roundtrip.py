"""Contract: windows written to a store come back, exactly per docs/api.md, through every read method (SQLite and
PostgreSQL: see conftest.py)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from networkpulse.engine import Window
from networkpulse.errors import PulseError
from networkpulse.store import open_store
from tests.store.helpers import T0, cluster, edge_set, window

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SUMMARY_KEYS = [
    "id",
    "start",
    "end",
    "start_ms",
    "end_ms",
    "events",
    "interactions",
    "vertices",
    "edges",
    "components",
    "largest",
    "late_events",
    "clusters",
    "provisional",
]
CLUSTER_KEYS = ["rank", "size", "members", "edges"]
HISTORY_KEYS = ["window_id", "start", "end", "start_ms", "end_ms", "rank", "size", "neighbors", "members"]
LOGINS = [f"user{i}" for i in range(40)] + ["Alice", "bob"]


def _windows():
    return [
        window(0, [[0, 1, 2, 3, 4], [10, 11, 12]]),
        window(1, [[40, 41, 0, 1], [5, 6, 7], [20, 21, 22]]),
        window(2, []),
        window(3, [[40, 2, 3], [8, 9, 13, 14, 15, 16]]),
    ]


def _check_cluster(got, want, rank):
    assert list(got) == CLUSTER_KEYS
    assert got["rank"] == rank and got["size"] == want.size
    assert got["members"] == [LOGINS[v] for v in want.members.tolist()]
    # Edges index into members; mapped back they are exactly the engine's vertex-id spanning tree.
    back = {frozenset(int(want.members[i]) for i in e) for e in got["edges"]}
    assert back == edge_set(want) and len(got["edges"]) == want.size - 1


@pytest.fixture
def stored(url):
    store = open_store(url)
    ids = store.write(_windows()[:2], LOGINS, {"events": 8273, "dropped": {"self": 4706}})
    ids += store.write(_windows()[2:], LOGINS, {"events": 9000, "dropped": {"self": 5000}})
    store.close()
    reopened = open_store(url)
    yield reopened, ids
    reopened.close()


def test_ids_and_summaries(stored):
    store, ids = stored
    assert ids == [1, 2, 3, 4]
    assert store.max_window_id() == 4
    summaries = store.windows()
    assert [s["id"] for s in summaries] == [4, 3, 2, 1]
    for s, w in zip(summaries, reversed(_windows()), strict=True):
        assert list(s) == SUMMARY_KEYS
        assert ISO.match(s["start"]) and ISO.match(s["end"])
        assert (s["start_ms"], s["end_ms"], s["events"], s["largest"]) == (
            w.start_ms,
            w.end_ms,
            w.events,
            w.largest,
        )
        assert s["clusters"] == len(w.clusters)
    assert summaries[-1]["start"] == "2015-01-01T12:00:00Z" and summaries[-1]["start_ms"] == T0
    assert [s["id"] for s in store.windows(limit=2, before=4)] == [3, 2]
    assert store.windows(limit=0) == []


def test_window_latest_after_cluster(stored):
    store, _ = stored
    written = _windows()
    detail = store.window(2)
    assert list(detail) == [*SUMMARY_KEYS, "cluster_list"]
    for rank, (got, want) in enumerate(zip(detail["cluster_list"], written[1].clusters, strict=True)):
        _check_cluster(got, want, rank)
    assert len(store.window(2, max_clusters=1)["cluster_list"]) == 1
    assert store.window(3)["cluster_list"] == []
    assert store.window(99) is None
    assert store.latest()["id"] == 4
    after = store.windows_after(1, limit=2)
    assert [w["id"] for w in after] == [2, 3] and after[0] == store.window(2, max_clusters=20)
    assert store.windows_after(4) == []
    c = store.cluster(4, 1)
    assert list(c) == [*CLUSTER_KEYS, "window"] and c["window"] == store.windows(limit=1)[0]
    _check_cluster({k: c[k] for k in CLUSTER_KEYS}, written[3].clusters[1], 1)
    assert store.cluster(4, 2) is None and store.cluster(77, 0) is None


def test_login_history_and_stats(stored):
    store, _ = stored
    history = store.login_history("ALICE")  # stored as "Alice" (vertex 40): matched case-insensitively
    assert [h["window_id"] for h in history] == [4, 2]
    for h in history:
        assert list(h) == HISTORY_KEYS and "Alice" in h["members"]
        c = store.cluster(h["window_id"], h["rank"])
        i = c["members"].index("Alice")
        want = sorted({c["members"][b if a == i else a] for a, b in c["edges"] if i in (a, b)})
        assert sorted(h["neighbors"]) == want and want
    assert store.login_history("alice", limit=1)[0]["window_id"] == 4
    assert store.login_history("nobody") == []
    assert [h["window_id"] for h in store.login_history("BOB")] == [2]
    stats = store.stats()
    assert stats["events"] == 9000 and stats["dropped"] == {"self": 5000} and stats["windows"] == 4
    assert ISO.match(stats["updated"]) and isinstance(stats["updated_ms"], int)


def test_empty_store(url):
    with open_store(url) as store:
        assert store.max_window_id() is None and store.latest() is None and store.windows() == []
        assert store.stats()["windows"] == 0 and store.stats()["events"] == 0
        assert store.write([], ["a"], {"events": np.int64(3)}) == []
        assert store.stats()["events"] == 3


def test_logins_case_variants_are_distinct_accounts(url):
    with open_store(url) as store:
        store.write([window(0, [[0, 1, 2]]), window(1, [[1, 2, 3]])], ["Bob", "x", "y", "bob"], {})
        history = store.login_history("BOB")
        assert [(h["window_id"], "Bob" in h["members"], "bob" in h["members"]) for h in history] == [
            (2, False, True),
            (1, True, False),
        ]


def test_login_search_folds_ascii_letters_only(url):
    # SQLite's NOCASE folds A-Z only; the PostgreSQL store must match exactly the same logins.
    with open_store(url) as store:
        store.write([window(0, [[0, 1, 2]])], ["Ärger", "ÉTÉ", "dependabot[bot]"], {})
        assert [h["window_id"] for h in store.login_history("Ärger")] == [1]
        assert store.login_history("äRGER") == [] and store.login_history("été") == []
        assert [h["window_id"] for h in store.login_history("DEPENDABOT[BOT]")] == [1]
        assert store.login_history("dependabot%") == [] and store.login_history("dependabot_bot_") == []


def test_bad_clusters_are_refused_and_nothing_is_written(url):
    with open_store(url) as store:
        bad_edge = window(0, [[0, 1, 2]])
        bad_edge.tree_edges[:] = np.array([[0, 1], [1, 7]], np.int32)
        with pytest.raises(PulseError, match="not a member"):
            store.write([window(1, [[3, 4, 5]]), bad_edge], [str(i) for i in range(10)], {})
        with pytest.raises(PulseError, match="outside the logins table"):
            store.write([window(0, [[0, 1, 12]])], [str(i) for i in range(10)], {})
        assert store.max_window_id() is None


def test_huge_cluster_uses_wide_edges(url):
    n = 70_000  # > 65,536 members: member indices no longer fit uint16
    c = cluster(range(n))
    with open_store(url) as store:
        w = window(0, [])
        counts = {f.name: getattr(w, f.name) for f in dataclasses.fields(w)}
        for column in ("members", "offsets", "tree_edges"):
            del counts[column]
        store.write([Window.from_clusters(clusters=(c,), **counts)], [f"u{i}" for i in range(n)], {})
        got = store.cluster(1, 0)
        assert got["size"] == n and got["members"][-1] == f"u{n - 1}"
        assert {frozenset(e) for e in got["edges"]} == edge_set(c)  # member index == vertex id here


@pytest.fixture
def reused(url):
    """One store for every example of a property test (examples start over on it: a store per example would
    cost a schema per example on PostgreSQL)."""
    with open_store(url) as store:
        yield store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(st.integers(0, 300), min_size=3, max_size=60, unique=True), max_size=8),
    st.integers(0, 2),
)
def test_encoding_round_trips(reused, groups, split):
    # Components are disjoint: keep each vertex in its first group only.
    seen: set[int] = set()
    clusters = []
    for g in groups:
        g = [v for v in g if v not in seen]
        seen.update(g)
        if len(g) >= 3:
            clusters.append(g)
    w = window(0, clusters)
    logins = [f"n{i}" for i in range(301)]
    store = reused
    store.start_over()
    store.write([window(5, clusters[:split])], logins, {})
    (wid,) = store.write([w], logins, {})
    detail = store.window(wid, max_clusters=100)
    assert len(detail["cluster_list"]) == len(w.clusters)
    for rank, (got, want) in enumerate(zip(detail["cluster_list"], w.clusters, strict=True)):
        assert got["members"] == [logins[v] for v in want.members.tolist()]
        assert {frozenset(int(want.members[i]) for i in e) for e in got["edges"]} == edge_set(want)
        assert got["rank"] == rank
