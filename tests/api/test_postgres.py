"""The Python API reads a PostgreSQL store (scripts/postgres.sh; skipped without PULSE_TEST_POSTGRES)."""

from __future__ import annotations

import networkx as nx
import pytest

import networkpulse
from tests.api.helpers import DATA, pulse

pytestmark = pytest.mark.postgres


def test_connect_reads_a_postgresql_store_as_the_in_memory_run(store_url: str) -> None:
    source = DATA / "2011-02-15-0.json.gz"
    done = pulse("run", source, "--store", store_url, "--no-progress")
    assert done.returncode == 0, done.stderr
    run = networkpulse.run_files(str(source))
    with networkpulse.connect(store_url) as store:
        frame = store.windows()
        graph = store.window_graph("latest")
        assert repr(store).count("***") or "@" not in repr(store)  # never a password in a repr
    cols = [c for c in frame.columns if c != "id"]
    assert len(frame) == len(run.windows) > 10
    assert frame[cols].equals(run.frame()[cols])
    expected = run.window_graph("latest")
    assert set(graph.nodes) == set(expected.nodes)
    assert {frozenset(e) for e in graph.edges} == {frozenset(e) for e in expected.edges}
    assert nx.number_connected_components(graph) == run.windows[-1]["clusters"]


def test_clusters_with_a_life_read_the_same_from_postgresql(store_url: str, store_2015: str) -> None:
    """Every lives endpoint answers the same over a PostgreSQL store as over the SQLite store of the same hour."""
    from fastapi.testclient import TestClient

    from networkpulse.serve import create_app
    from tests.api.helpers import HOUR_2015

    done = pulse("run", HOUR_2015, "--store", store_url, "--no-progress")
    assert done.returncode == 0, done.stderr
    paths = [
        "/api/windows/30?max_clusters=1000", "/api/windows/30/clusters/2", "/api/clusters/167",
        "/api/windows/30/lineage", "/api/windows/40/lineage", "/api/windows/30/clusters/0/brokers",
        "/api/windows/45/clusters/1/brokers", "/api/logins/ShikChen/influence", "/api/logins/shikchen/recommendations",
        "/api/momentum/growing?window_id=30", "/api/momentum/bridges?window_id=30", "/api/momentum/growing",
    ]  # fmt: skip
    with TestClient(create_app(store_url)) as pg, TestClient(create_app(store_2015)) as lite:
        for path in paths:
            got, want = pg.get(path), lite.get(path)
            assert got.status_code == want.status_code == 200, path
            assert got.json() == want.json(), path
        assert pg.get("/api/windows/30?max_clusters=3").json()["cluster_list"][0]["cluster_id"] == 167
