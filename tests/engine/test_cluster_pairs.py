"""``cluster_pairs=True``: every listed cluster's distinct pairs and pane counts equal a plain recount of the
window's accepted interactions, everything else the engine emits is unchanged, and a restored engine emits the
very same arrays (property-based)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.engine import WindowEngine
from tests.engine.reference import accepted
from tests.engine.test_checkpoint import _same
from tests.engine.test_windows import run, streams


def run_pairs(batches, config, cut: int | None = None):
    engine = WindowEngine(config, cluster_pairs=True)
    out = []
    for i, b in enumerate(batches):
        if i == cut:
            engine = WindowEngine.restore(config, engine.snapshot(), 64, cluster_pairs=True)
        out += engine.add(b.src, b.dst, b.times, b.event_times)
    return out + engine.flush()


@settings(max_examples=250, deadline=None)
@given(streams(), st.data())
def test_pairs_of_every_listed_cluster(case, data) -> None:
    batches, config = case
    plain, _ = run(batches, config)
    got = run_pairs(batches, config)
    _same(got, plain)  # nothing the engine emitted before changes
    edges, _, _ = accepted(batches, config)
    for w in got:
        assert w.pairs is not None and w.pair_offsets is not None and w.pair_panes is not None
        assert len(w.pair_offsets) == w.n_clusters + 1 and w.pair_offsets[-1] == len(w.pairs)
        start = w.start_ms
        panes: dict[tuple[int, int], set[int]] = {}
        for s, d, t in edges:
            if start <= t < w.end_ms:
                panes.setdefault((min(s, d), max(s, d)), set()).add(t // config.slide_ms)
        for rank, c in enumerate(w.clusters):
            lo, hi = w.pair_offsets[rank], w.pair_offsets[rank + 1]
            mine = [tuple(p) for p in w.pairs[lo:hi].tolist()]
            members = set(c.members.tolist())
            want = sorted(p for p in panes if p[0] in members)
            assert mine == want  # sorted by (low, high), exactly the cluster's distinct pairs
            assert w.pair_panes[lo:hi].tolist() == [len(panes[p]) for p in want]
    cut = data.draw(st.integers(0, len(batches)))
    again = run_pairs(batches, config, cut)
    _same(again, got)
    for x, y in zip(again, got, strict=True):
        assert np.array_equal(x.pairs, y.pairs) and np.array_equal(x.pair_panes, y.pair_panes)


def test_off_by_default() -> None:
    from networkpulse.engine import WindowConfig

    engine = WindowEngine(WindowConfig(size_ms=10, slide_ms=10, min_size=2))
    engine.add(np.array([0], np.int32), np.array([1], np.int32), np.array([0]), np.array([0]))
    (w,) = engine.flush()
    assert w.pairs is None and w.n_clusters == 1
