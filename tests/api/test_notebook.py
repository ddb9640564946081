"""The public Python API (networkpulse.notebook) against stores `pulse run` wrote from real GH Archive files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

import networkpulse
from networkpulse.errors import ConfigError, MissingExtraError, PulseError
from networkpulse.notebook import ALL_CLUSTERS, WINDOW_COLUMNS, cluster_graph, connect, window_graph
from tests.api.helpers import DATA, HOUR_2015, REAL_FILES, jsonl, pulse


def test_windows_frame_equals_export_windows_row_for_row(store_2015: str) -> None:
    exported = jsonl(pulse("export", "windows", "--store", store_2015).stdout)
    with connect(store_2015) as store:
        frame = store.windows()
    assert list(frame.columns) == list(WINDOW_COLUMNS)
    assert len(frame) == len(exported) == 69
    assert str(frame["start"].dt.tz) == "UTC" and str(frame["end"].dt.tz) == "UTC"
    assert all(frame[c].dtype == "int64" for c in WINDOW_COLUMNS if c not in ("start", "end", "provisional"))
    for row, line in zip(frame.to_dict("records"), exported, strict=True):
        assert row["start"] == pd.Timestamp(line["start"]) and row["end"] == pd.Timestamp(line["end"])
        assert row["start"].strftime("%Y-%m-%dT%H:%M:%SZ") == line["start"]
        assert {k: v for k, v in row.items() if k not in ("start", "end")} == {
            k: v for k, v in line.items() if k not in ("start", "end")
        }


def test_run_files_without_a_store_equals_the_stored_run(store_2015: str) -> None:
    """Every window, count and cluster (members, edges) of the in-memory run is what `pulse run` stored."""
    stored = jsonl(pulse("export", "windows", "--store", store_2015, "--clusters", "1000000").stdout)
    run = networkpulse.run_files(str(HOUR_2015))
    assert run.windows == stored
    assert run.frame().equals(networkpulse.windows_frame(stored))
    with connect(store_2015) as store:
        stats = store.stats()
    assert {k: stats[k] for k in run.stats} == run.stats


def _events(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("name", ["2011-02-15-0.json.gz", "2013-02-15-0.json.gz"])
def test_run_events_from_dicts_equals_run_files(name: str) -> None:
    """Decoded dicts (events-API 2011, timeline 2013 with -08:00 offsets) give exactly the file's windows."""
    from_files = networkpulse.run_files(str(DATA / name), window="5m", slide="1m")
    from_dicts = networkpulse.run_events(_events(DATA / name), window="5m", slide="1m")
    assert from_dicts.windows == from_files.windows
    assert from_dicts.stats == from_files.stats
    assert len(from_files.windows) > 10


def test_run_events_reports_what_it_skips() -> None:
    good = _events(HOUR_2015)[:200]
    bad: list[object] = [
        {"type": "PushEvent"},  # no created_at
        {**good[0], "created_at": "2015-01-01T12:00:00"},  # no UTC offset
        "{not json",
        {**good[1], "created_at": "2099-01-01T00:00:00Z"},  # years ahead of its neighbours
    ]
    run = networkpulse.run_events([*good[:100], *bad, *good[100:]])  # type: ignore[list-item]
    assert run.report.by_reason == {"wrong_shape": 2, "malformed_json": 1, "implausible_time": 1}
    assert run.report.messages[0].startswith("<events>:101: wrong_shape")
    assert run.stats["events"] == 200 and run.stats["skipped_lines"] == 4
    with pytest.raises(ConfigError, match="a dict"):
        networkpulse.run_events([42])  # type: ignore[list-item]


@pytest.mark.parametrize("source", REAL_FILES, ids=lambda p: p.name.split(".")[0])
def test_graph_of_every_stored_cluster_is_connected_with_exactly_its_members_and_edges(
    real_store: Callable[[Path], str], source: Path
) -> None:
    with connect(real_store(source)) as store:
        windows = list(store.iter_windows(clusters=ALL_CLUSTERS))
    clusters = 0
    for window in windows:
        assert len(window["cluster_list"]) == window["clusters"]
        whole = window_graph(window)
        assert nx.number_connected_components(whole) == window["clusters"]
        for cluster in window["cluster_list"]:
            graph = cluster_graph(cluster, window)
            members = cluster["members"]
            stored_edges = {frozenset((members[a], members[b])) for a, b in cluster["edges"]}
            assert nx.is_connected(graph)
            assert set(graph.nodes) == set(members) and graph.number_of_nodes() == cluster["size"] == len(members)
            assert {frozenset(e) for e in graph.edges} == stored_edges
            assert graph.number_of_edges() == len(cluster["edges"]) == cluster["size"] - 1
            for login in members:
                assert graph.nodes[login] == {"login": login, "label": login, "rank": cluster["rank"],
                                              "size": cluster["size"]}
                assert whole.nodes[login]["rank"] == cluster["rank"]
            assert graph.graph["window_id"] == window["id"] and graph.graph["start"] == window["start"]
            assert set(nx.node_connected_component(whole, members[0])) == set(members)
            clusters += 1
    assert clusters > 0


def test_store_cluster_and_window_graph_shortcuts(store_2015: str) -> None:
    with connect(store_2015) as store:
        busiest = max(store.iter_windows(), key=lambda w: w["clusters"])
        window = store.window(busiest["id"])
        graph = store.cluster_graph(busiest["id"], 0)
        assert graph.number_of_nodes() == window["cluster_list"][0]["size"] == busiest["largest"]
        assert store.window_graph(busiest["id"]).number_of_nodes() == sum(c["size"] for c in window["cluster_list"])
        assert store.window("latest")["id"] == max(w["id"] for w in store.iter_windows())
        assert len(store.clusters(busiest["id"])) == busiest["clusters"]
        with pytest.raises(PulseError, match="window 999999 is not stored"):
            store.window(999999)
        with pytest.raises(PulseError, match=r"expected a rank in 0\.\."):
            store.cluster_graph(busiest["id"], busiest["clusters"])
        with pytest.raises(ConfigError, match="window"):
            store.window(-1)


def test_windows_between_two_times(store_2015: str) -> None:
    with connect(store_2015) as store:
        everything = store.windows()
        since, until = "2015-01-01T12:10:00Z", datetime(2015, 1, 1, 12, 30, tzinfo=UTC)
        part = store.windows(since, until)
        naive = store.windows(datetime(2015, 1, 1, 12, 10), 1420115400000)  # naive = UTC; epoch ms
    expected = everything[(everything["start"] >= pd.Timestamp(since)) & (everything["start"] < pd.Timestamp(until))]
    assert len(part) == 20
    assert part.reset_index(drop=True).equals(expected.reset_index(drop=True))
    assert naive.equals(part)
    with pytest.raises(ConfigError, match="ISO 8601"):
        next(connect(store_2015).iter_windows("yesterday"))


def test_history_frame_is_the_stored_history_oldest_first(store_2015: str) -> None:
    with connect(store_2015) as store:
        window = store.window(30)
        login = window["cluster_list"][0]["members"][0]
        frame = store.history(login)
        entries = store._store.login_history(login, limit=1000)
        assert store.history("nobody-has-this-login").empty
    assert len(frame) == len(entries) > 1
    assert frame["start"].is_monotonic_increasing
    assert frame["window_id"].tolist() == [e["window_id"] for e in reversed(entries)]
    assert all(login in members for members in frame["members"])
    assert 30 in frame["window_id"].tolist()
    assert str(frame["start"].dt.tz) == "UTC"


def test_extra_cluster_fields_become_node_edge_and_graph_attributes() -> None:
    """Fields a later store adds (issue 7: cluster_id, broker flags) map onto the graph by their shape."""
    cluster = {
        "rank": 1, "size": 4, "members": ["ann", "bob", "cy", "dee"], "edges": [[0, 1], [1, 2], [1, 3]],
        "cluster_id": 17, "event": "grew", "articulation_points": ["bob"], "bridges": [["ann", "bob"], ["bob", "cy"]],
        "degree": {"bob": 3, "ann": 1}, "centrality": [0.3, 1.0, 0.3, 0.3], "parents": [4, 9], "note": None,
    }  # fmt: skip
    graph = cluster_graph(cluster)
    assert all(graph.nodes[n]["cluster_id"] == 17 and graph.nodes[n]["event"] == "grew" for n in graph)
    assert graph.graph["cluster_id"] == 17 and graph.graph["parents"] == [4, 9] and graph.graph["note"] is None
    assert {n for n in graph if graph.nodes[n]["articulation_points"]} == {"bob"}
    assert {frozenset(e) for e in graph.edges if graph.edges[e]["bridges"]} == {
        frozenset(("ann", "bob")), frozenset(("bob", "cy"))
    }
    assert graph.nodes["bob"]["degree"] == 3 and "degree" not in graph.nodes["cy"]
    assert graph.nodes["bob"]["centrality"] == 1.0
    whole = window_graph({"id": 5, "start": "s", "end": "e", "clusters": 1, "cluster_list": [cluster]})
    assert whole.nodes["bob"]["articulation_points"] is True and whole.graph["window_id"] == 5
    with pytest.raises(PulseError, match="indexes outside"):
        cluster_graph({**cluster, "edges": [[0, 9]]})


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'networkpulse\[notebook\]'"):
        networkpulse.windows_frame([])
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(MissingExtraError, match="'networkx'"):
        cluster_graph({"rank": 0, "members": [], "edges": []})


def test_public_names_resolve_and_import_stays_light() -> None:
    for name in networkpulse.__all__:
        assert getattr(networkpulse, name) is not None
    assert networkpulse.connect is connect
    probe = "import sys, networkpulse; print(sorted(m for m in ('pandas', 'networkx', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        networkpulse.nope  # noqa: B018


def test_graphs_carry_the_stores_cluster_lives(store_2015: str) -> None:
    """A store with cluster lives (issue 7) gives every node its cluster_id and lineage event, broker flags on
    nodes, bridge flags on edges: every bridge is in every spanning tree, so each is a stored edge."""
    with connect(store_2015) as store:
        if not hasattr(store._store, "window_clusters"):
            pytest.skip("this store keeps no cluster lives")
        window = store.window(max(store.iter_windows(), key=lambda w: w["clusters"])["id"])
        graph = store.window_graph(window["id"])
    ids = set()
    for cluster in window["cluster_list"]:
        members = cluster["members"]
        assert isinstance(cluster["cluster_id"], int) and cluster["cluster_id"] not in ids
        ids.add(cluster["cluster_id"])
        assert {graph.nodes[n]["cluster_id"] for n in members} == {cluster["cluster_id"]}
        assert {graph.nodes[n]["event"] for n in members} == {cluster["event"]}
        if cluster.get("articulation_points"):
            assert {n for n in members if graph.nodes[n]["articulation_points"]} == set(cluster["articulation_points"])
        stored = {frozenset((members[a], members[b])) for a, b in cluster["edges"]}
        bridges = {frozenset(pair) for pair in cluster.get("bridges") or []}
        assert bridges <= stored
        if bridges:
            assert {frozenset(e) for e in graph.subgraph(members).edges if graph.edges[e]["bridges"]} == bridges
    assert len(ids) == window["clusters"] > 10
