"""Builders for engine ``Window`` values, so store tests do not depend on the engine itself."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from networkpulse.engine.types import Cluster, Window

MINUTE = 60_000
T0 = 1_420_113_600_000  # 2015-01-01T12:00:00Z


def cluster(vertex_ids: Sequence[int], rng: random.Random | None = None) -> Cluster:
    """A cluster over ``vertex_ids`` with a random spanning tree (edges are vertex ids, any orientation)."""
    rng = rng or random.Random(0)
    members = sorted(set(vertex_ids))
    order = members[:]
    rng.shuffle(order)
    edges = [(order[i], order[rng.randrange(i)]) for i in range(1, len(order))]
    edges = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in edges]
    return Cluster(np.array(members, np.int32), np.array(edges, np.int32).reshape(-1, 2))


def window(index: int, clusters: Sequence[Sequence[int]], *, late: int = 0) -> Window:
    """The ``index``-th one-minute-slide, ten-minute window with the given clusters (largest first)."""
    built = tuple(
        sorted(
            (cluster(c, random.Random(index * 1000 + k)) for k, c in enumerate(clusters)),
            key=lambda c: (-c.size, int(c.members[0])),
        )
    )
    vertices = sum(c.size for c in built) + 5
    return Window.from_clusters(
        start_ms=T0 + index * MINUTE,
        end_ms=T0 + index * MINUTE + 10 * MINUTE,
        events=100 + index,
        interactions=50 + index,
        vertices=vertices,
        edges=vertices - 3,
        components=len(built) + 2,
        largest=built[0].size if built else 2,
        late_events=late,
        clusters=built,
    )


def edge_set(c: Cluster) -> set[frozenset[int]]:
    return {frozenset(map(int, e)) for e in c.edges}
