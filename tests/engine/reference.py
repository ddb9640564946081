"""A deliberately naive reference for the window engine: per-window networkx over the accepted edges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from networkpulse.engine import Window, WindowConfig


@dataclass
class Batch:
    src: np.ndarray
    dst: np.ndarray
    times: np.ndarray
    event_times: np.ndarray


@dataclass
class Expected:
    start_ms: int
    end_ms: int
    events: int
    interactions: int
    vertices: int
    edges: int
    components: int
    largest: int
    clusters: list[frozenset[int]]
    pairs: set[frozenset[int]]


def accepted(batches: Sequence[Batch], config: WindowConfig) -> tuple[list[tuple[int, int, int]], list[int], int]:
    """Replay the watermark rule batch by batch: returns accepted (src, dst, t), accepted event times, late."""
    closed: int | None = None
    top: int | None = None
    edges: list[tuple[int, int, int]] = []
    events: list[int] = []
    late = 0
    for b in batches:
        for t in b.event_times.tolist():
            if closed is not None and t // config.slide_ms < closed:
                late += 1
            else:
                events.append(t)
        for s, d, t in zip(b.src.tolist(), b.dst.tolist(), b.times.tolist(), strict=True):
            if closed is None or t // config.slide_ms >= closed:
                edges.append((s, d, t))
        times = b.event_times.tolist() + b.times.tolist()
        if times:
            top = max(times) if top is None else max(top, *times)
        if top is not None:
            closed = (top - config.lateness_ms) // config.slide_ms
    return edges, events, late


def expected_windows(batches: Sequence[Batch], config: WindowConfig) -> tuple[list[Expected], int]:
    edges, events, late = accepted(batches, config)
    if not events:
        return [], late
    size, slide = config.size_ms, config.slide_ms
    # Every slide-aligned window (or tumbling period, when rolling) that holds an accepted event.
    k = size // slide
    if config.rolling:
        start = (min(events) // size) * size
        bounds = [(start, end) for end in sorted({(t // size + 1) * size for t in events})]
    else:
        ends = {(t // slide + 1 + j) * slide for t in events for j in range(k)}
        bounds = [(end - size, end) for end in sorted(ends)]
    out = []
    for start, end in bounds:
        graph = nx.Graph()
        inside = [(s, d) for s, d, t in edges if start <= t < end]
        graph.add_edges_from(inside)
        comps = list(nx.connected_components(graph))
        out.append(
            Expected(
                start_ms=start,
                end_ms=end,
                events=sum(start <= t < end for t in events),
                interactions=len(inside),
                vertices=graph.number_of_nodes(),
                edges=graph.number_of_edges(),
                components=len(comps),
                largest=max((len(c) for c in comps), default=0),
                clusters=sorted((frozenset(c) for c in comps if len(c) >= config.min_size), key=sorted),
                pairs={frozenset(p) for p in inside},
            )
        )
    return out, late


def assert_same(got: Sequence[Window], want: Sequence[Expected]) -> None:
    assert [(w.start_ms, w.end_ms) for w in got] == [(w.start_ms, w.end_ms) for w in want]
    for g, w in zip(got, want, strict=True):
        where = f"window [{w.start_ms}, {w.end_ms})"
        assert (g.events, g.interactions, g.vertices, g.edges, g.components, g.largest) == (
            w.events, w.interactions, w.vertices, w.edges, w.components, w.largest,
        ), where
        clusters = [frozenset(c.members.tolist()) for c in g.clusters]
        assert sorted(clusters, key=sorted) == w.clusters, where
        sizes = [c.size for c in g.clusters]
        assert sizes == sorted(sizes, reverse=True), where
        for c in g.clusters:
            # The drawn edges are real interactions of this window and span the cluster as a tree.
            assert c.edges.shape == (c.size - 1, 2), where
            tree = nx.Graph()
            tree.add_nodes_from(c.members.tolist())
            for a, b in c.edges.tolist():
                assert frozenset((a, b)) in w.pairs, where
                tree.add_edge(a, b)
            assert nx.is_tree(tree), where
