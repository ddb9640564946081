"""Articulation points, bridges, degree and betweenness equal networkx's: on generated graphs (property-based)
and on every listed cluster of every window of the real GH Archive files."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.analytics import AnalyticsState, annotate
from networkpulse.analytics.brokers import betweenness, cuts, graph, positions
from networkpulse.engine import WindowConfig, WindowEngine
from tests.engine.test_real_data import FILES, real_batches


def columnar(g: nx.Graph, min_size: int = 1):
    """A networkx graph as the engine's columnar window: components largest first, sorted members and pairs."""
    comps = sorted((sorted(c) for c in nx.connected_components(g) if len(c) >= min_size), key=lambda m: (-len(m), m[0]))
    members = np.array([v for c in comps for v in c], np.int32)
    offsets = np.r_[0, np.cumsum([len(c) for c in comps])].astype(np.int64)
    pairs, bounds = [], [0]
    for c in comps:
        pairs += sorted(tuple(sorted(e)) for e in g.subgraph(c).edges())
        bounds.append(len(pairs))
    return comps, members, offsets, np.array(pairs, np.int32).reshape(-1, 2), np.array(bounds, np.int64)


def check(g: nx.Graph, comps, members, offsets, edges, with_betweenness: bool = True) -> None:
    gr = graph(offsets, edges)
    c = cuts(gr)
    for r, comp in enumerate(comps):
        lo, hi = offsets[r], offsets[r + 1]
        sub = g.subgraph(comp)
        where = f"cluster {r} of {len(comps)} ({len(comp)} members)"
        assert {int(members[p]) for p in range(lo, hi) if c.articulation[p]} == set(nx.articulation_points(sub)), where
        mine = c.bridges[c.bridge_offsets[r] : c.bridge_offsets[r + 1]]
        got_bridges = {(int(members[a]), int(members[b])) for a, b in mine}
        assert got_bridges == {tuple(sorted(e)) for e in nx.bridges(sub)}, where
        assert dict(zip(members[lo:hi].tolist(), gr.degree[lo:hi].tolist(), strict=True)) == dict(sub.degree()), where
        if with_betweenness:
            want = nx.betweenness_centrality(sub)
            got = betweenness(gr, r)
            assert np.allclose(got, [want[v] for v in members[lo:hi].tolist()], rtol=0, atol=1e-12), where


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=90))
def test_random_graphs_equal_networkx(n, raw) -> None:
    g = nx.Graph()
    g.add_edges_from((a % n, b % n) for a, b in raw if a % n != b % n)
    comps, members, offsets, pairs, bounds = columnar(g)
    edges = positions(members, offsets, pairs, bounds)
    assert (members[edges] == pairs).all()
    check(g, comps, members, offsets, edges)


def test_betweenness_limit_and_bad_pairs() -> None:
    g = nx.path_graph(6)
    _, members, offsets, pairs, bounds = columnar(g)
    gr = graph(offsets, positions(members, offsets, pairs, bounds))
    assert np.isnan(betweenness(gr, 0, limit=5)).all()
    with pytest.raises(ValueError, match="not a member"):
        positions(members, offsets, np.array([[0, 99]], np.int32), np.array([0, 1], np.int64))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.split(".")[0])
def test_every_stored_cluster_of_the_real_files(path: Path) -> None:
    """Through the engine (cluster_pairs=True) and the stage, as the pipeline runs them: every listed cluster's
    articulation points, bridges and degrees equal networkx's on that cluster's real pairs; betweenness too."""
    config = WindowConfig(size_ms=10 * 60_000, slide_ms=60_000)
    engine = WindowEngine(config, cluster_pairs=True)
    windows = []
    for b in real_batches([path]):
        windows += engine.add(b.src, b.dst, b.times, b.event_times)
    windows += engine.flush()
    _, notes = annotate(AnalyticsState(), windows)
    clusters = 0
    for w, n in zip(windows, notes, strict=True):
        assert n.edges is not None and n.articulation is not None
        g = nx.Graph()
        g.add_edges_from(w.pairs.tolist())
        comps = [c.members.tolist() for c in w.clusters]
        check(g, comps, w.members, w.offsets, n.edges, with_betweenness=w.end_ms % (7 * 60_000) == 0)
        clusters += len(comps)
    assert clusters > 100
