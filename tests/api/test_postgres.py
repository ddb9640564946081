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
