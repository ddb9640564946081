"""Clusters with a life over HTTP, against a store `pulse run` wrote from the real 2015 hour: every endpoint's
answer is checked against what the real interactions say (networkx on the window's pairs), against the other
endpoints, and against the store's own export path, never against itself."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from networkpulse.serve import create_app
from networkpulse.store import open_store
from tests.api.helpers import HOUR_2015, jsonl, pulse
from tests.serve.helpers import LiveServer

#: A cluster of the bundled hour with a rich life (docs/analytics.md): born, grew, two merges, a split.
RICH = 167
EVENTS = {"born", "grew", "shrank", "steady", "merged", "split"}


@pytest.fixture(scope="module")
def client(store_2015: str) -> Iterator[TestClient]:
    with TestClient(create_app(store_2015)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def exported(store_2015: str) -> dict[int, dict[str, Any]]:
    """The store's own per-window lives (the `pulse export clusters` read), by window id."""
    store = open_store(store_2015, readonly=True)
    try:
        return {w["window_id"]: w for w in store.window_clusters(0, limit=10_000)}
    finally:
        store.close()


@pytest.fixture(scope="module")
def interactions() -> list[dict[str, Any]]:
    done = pulse("export", "interactions", HOUR_2015)
    assert done.returncode == 0, done.stderr
    return jsonl(done.stdout)


def window_graph(interactions: list[dict[str, Any]], start_ms: int, end_ms: int) -> nx.Graph:
    """Every distinct pair that interacted in ``[start_ms, end_ms)``."""
    graph = nx.Graph()
    graph.add_edges_from((i["src"], i["dst"]) for i in interactions if start_ms <= i["created_at_ms"] < end_ms)
    return graph


def get(client: TestClient, path: str) -> Any:
    res = client.get(path)
    assert res.status_code == 200, (path, res.text)
    return res.json()


def test_every_listed_cluster_carries_the_stored_identity(client: TestClient, exported: dict[int, Any]) -> None:
    ids = [w["id"] for w in get(client, "/api/windows?limit=1000")["windows"]]
    assert len(ids) == len(exported) > 60
    named = 0
    for wid in ids:
        detail = get(client, f"/api/windows/{wid}?max_clusters=1000")
        want = exported[wid]["clusters"]
        got = [(c["cluster_id"], c["event"], c["parents"], c["trend"], c["members"]) for c in detail["cluster_list"]]
        assert got == [(c["cluster_id"], c["event"], c["parents"], c["trend"], c["members"]) for c in want]
        cluster_ids = [c["cluster_id"] for c in detail["cluster_list"]]
        assert None not in cluster_ids and len(set(cluster_ids)) == len(cluster_ids)  # one id per cluster
        named += len(cluster_ids)
    assert named > 3000
    one = get(client, f"/api/windows/{ids[-30]}/clusters/1")
    assert one["cluster_id"] == exported[ids[-30]]["clusters"][1]["cluster_id"]
    latest = get(client, "/api/windows/latest?max_clusters=3")
    assert [c["cluster_id"] for c in latest["cluster_list"]] == [
        c["cluster_id"] for c in exported[latest["id"]]["clusters"][:3]
    ]


def test_live_frames_carry_the_same_ids_as_rest(store_2015: str, exported: dict[int, Any]) -> None:
    from websockets.sync.client import connect

    first = min(exported)
    with LiveServer(store_2015) as server, connect(f"{server.ws}/api/live?since={first}&max_clusters=200") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(len(exported) - 1)]
    assert [f["window"]["id"] for f in frames] == sorted(exported)[1:]
    for frame in frames:
        window = frame["window"]
        want = exported[window["id"]]["clusters"][:200]
        assert [(c["cluster_id"], c["event"], c["members"]) for c in window["cluster_list"]] == [
            (c["cluster_id"], c["event"], c["members"]) for c in want
        ]


def test_a_clusters_life_follows_its_windows(client: TestClient) -> None:
    life = get(client, f"/api/clusters/{RICH}")
    assert life["cluster_id"] == RICH
    windows = life["windows"]
    assert [w["event"] for w in windows[:4]] == ["born", "grew", "merged", "merged"]
    assert [w["window_id"] for w in windows] == sorted(w["window_id"] for w in windows)
    assert {w["event"] for w in windows} <= EVENTS and "split" in {w["event"] for w in windows}
    before: set[str] | None = None
    for w in windows:
        # The life agrees with the window as REST serves it: same id at that rank, same size.
        cluster = get(client, f"/api/windows/{w['window_id']}/clusters/{w['rank']}")
        assert cluster["cluster_id"] == RICH and cluster["size"] == w["size"] == len(cluster["members"])
        now = set(cluster["members"])
        if before is not None:
            assert w["joined"] == sorted(now - before) and w["left"] == sorted(before - now)
        for other in w["split_off"]:
            lineage = get(client, f"/api/windows/{w['window_id']}/lineage")
            assert {"cluster_id": other, "event": "split", "parents": [RICH]}.items() <= next(
                c for c in lineage["clusters"] if c["cluster_id"] == other
            ).items()
        before = now
    assert any(w["split_off"] for w in windows)
    end = life["ended"]
    assert end is not None and end["window_id"] > windows[-1]["window_id"]
    ended = get(client, f"/api/windows/{end['window_id']}/lineage")["ended"]
    assert {"cluster_id": RICH, "into": end["into"]} in ended
    newest = get(client, f"/api/clusters/{RICH}?limit=2")["windows"]
    assert newest[1] == windows[-1] and [w["window_id"] for w in newest] == [w["window_id"] for w in windows[-2:]]


def test_window_lineage_matches_the_export_and_the_previous_window(
    client: TestClient, exported: dict[int, Any]
) -> None:
    ids = sorted(exported)
    for prev, wid in itertools.pairwise(ids[10:40]):
        lineage = get(client, f"/api/windows/{wid}/lineage")
        assert lineage["window"]["id"] == wid
        want = exported[wid]["clusters"]
        assert [(c["rank"], c["size"], c["cluster_id"], c["event"], c["parents"]) for c in lineage["clusters"]] == [
            (c["rank"], c["size"], c["cluster_id"], c["event"], c["parents"]) for c in want
        ]
        # Parents are exactly the previous window's clusters sharing an account, and they existed there.
        before = {c["cluster_id"]: set(c["members"]) for c in exported[prev]["clusters"]}
        for c in want:
            sharing = {cid for cid, members in before.items() if members & set(c["members"])}
            assert set(c["parents"]) == sharing
        # An ended id is one of the previous window's, held by no cluster now.
        now_ids = {c["cluster_id"] for c in want}
        for e in lineage["ended"]:
            assert e["cluster_id"] in before and e["cluster_id"] not in now_ids


def test_brokers_equal_networkx_on_the_real_pairs(
    client: TestClient, exported: dict[int, Any], interactions: list[dict[str, Any]]
) -> None:
    checked = 0
    for wid in sorted(exported)[5:60:6]:
        w = exported[wid]
        graph = window_graph(interactions, w["start_ms"], w["end_ms"])
        for c in w["clusters"][:4]:
            brokers = get(client, f"/api/windows/{wid}/clusters/{c['rank']}/brokers")
            sub = graph.subgraph(c["members"])
            assert nx.is_connected(sub) and brokers["cluster_id"] == c["cluster_id"]
            assert brokers["size"] == sub.number_of_nodes() and brokers["pairs"] == sub.number_of_edges()
            assert set(brokers["articulation_points"]) == set(nx.articulation_points(sub))
            assert {frozenset(b) for b in brokers["bridges"]} == {frozenset(b) for b in nx.bridges(sub)}
            between = nx.betweenness_centrality(sub)
            rows = brokers["members"]
            assert {m["login"] for m in rows} == set(sub)
            for m in rows:
                assert m["degree"] == sub.degree(m["login"])
                assert m["betweenness"] == pytest.approx(between[m["login"]], abs=1e-6)
                assert m["articulation"] == (m["login"] in brokers["articulation_points"])
            keys = [(-m["betweenness"], -m["degree"], m["login"]) for m in rows]
            assert keys == sorted(keys)  # top brokers first
            checked += 1
    assert checked >= 30


def test_influence_is_the_logins_row_of_each_windows_brokers(client: TestClient) -> None:
    body = get(client, "/api/logins/shikchen/influence?limit=20")  # logins match case-insensitively
    rows = body["influence"]
    assert len(rows) == 20 and [r["window_id"] for r in rows] == sorted((r["window_id"] for r in rows), reverse=True)
    assert {r["cluster_id"] for r in rows} == {RICH}
    for r in rows[::4]:
        brokers = get(client, f"/api/windows/{r['window_id']}/clusters/{r['rank']}/brokers")
        me = next(m for m in brokers["members"] if m["login"] == "ShikChen")
        assert (r["degree"], r["betweenness"], r["articulation"]) == (
            me["degree"], me["betweenness"], me["articulation"]
        )  # fmt: skip
    assert get(client, "/api/logins/nobody-at-all/influence") == {"login": "nobody-at-all", "influence": []}


def test_people_to_meet_are_new_and_their_common_partners_real(
    client: TestClient, exported: dict[int, Any], interactions: list[dict[str, Any]]
) -> None:
    body = get(client, "/api/logins/ShikChen/recommendations?k=8")
    assert body["login"] == "ShikChen" and len(body["windows"]) == 10
    recs = body["recommendations"]
    assert len(recs) == 8 and [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    seen = nx.Graph()
    for wid in body["windows"]:
        w = exported[wid]
        graph = window_graph(interactions, w["start_ms"], w["end_ms"])
        cluster = next(c for c in w["clusters"] if "ShikChen" in c["members"])
        seen.add_edges_from(graph.subgraph(cluster["members"]).edges)
    partners = set(seen["ShikChen"])
    assert partners
    for r in recs:
        assert r["login"] != "ShikChen" and r["login"] not in partners  # new pairs only
        assert len(set(r["via"])) == len(r["via"]) and set(r["via"]) <= partners & set(seen[r["login"]])
        assert (r["score"] > 0) == bool(r["via"])
    assert recs[0]["via"]  # the best is backed by common partners
    assert get(client, "/api/logins/nobody-at-all/recommendations") == {
        "login": "nobody-at-all", "windows": [], "recommendations": []
    }  # fmt: skip


def test_growing_clusters_and_bridges_between_them(client: TestClient, exported: dict[int, Any]) -> None:
    suggested = 0
    for wid in sorted(exported)[10:60:5]:
        lineage = get(client, f"/api/windows/{wid}/lineage")["clusters"]
        growing = get(client, f"/api/momentum/growing?window_id={wid}&limit=1000")
        assert growing["window"]["id"] == wid
        want = sorted((c for c in lineage if c["trend"] == "growing"), key=lambda c: (-c["slope"], c["rank"]))
        assert growing["clusters"] == want
        bridges = get(client, f"/api/momentum/bridges?window_id={wid}&clusters=3&k=2")
        members = {c["cluster_id"]: set(c["members"]) for c in exported[wid]["clusters"]}
        steepest = [c["cluster_id"] for c in want[:3]]
        assert [s["clusters"] for s in bridges["suggestions"]] == [list(p) for p in itertools.combinations(steepest, 2)]
        for s in bridges["suggestions"]:
            a_id, b_id = s["clusters"]
            assert 0 < len(s["pairs"]) <= 2
            for p in s["pairs"]:
                assert p["a"] in members[a_id] and p["b"] in members[b_id] and p["score"] > 0
            suggested += len(s["pairs"])
    assert suggested > 10
    newest = get(client, "/api/momentum/growing")
    assert newest["window"]["id"] == max(wid for wid, w in exported.items() if w["clusters"])


def test_missing_and_invalid(client: TestClient) -> None:
    for path in ("/api/clusters/999999", "/api/windows/999999/lineage", "/api/windows/30/clusters/9999/brokers",
                 "/api/windows/30/clusters/9999",
                 "/api/momentum/growing?window_id=999999", "/api/momentum/bridges?window_id=999999"):
        res = client.get(path)
        assert res.status_code == 404 and "stored" in res.json()["detail"], path
    for path in ("/api/clusters/-1", "/api/clusters/abc", "/api/logins/a%20b/influence",
                 "/api/logins/x/recommendations?k=0", "/api/momentum/bridges?clusters=1",
                 f"/api/clusters/{2**63}"):
        res = client.get(path)
        assert res.status_code == 422 and res.json()["detail"], path
