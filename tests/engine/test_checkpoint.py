"""A snapshot taken between any two batches and restored into a new engine continues exactly: the same windows,
spanning trees included, as one engine that never stopped (property-based, against the engine itself and
networkx)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.engine import WindowConfig, WindowEngine
from tests.engine.reference import assert_same, expected_windows
from tests.engine.test_windows import run, streams


def _same(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.start_ms, x.end_ms, x.events, x.interactions, x.vertices, x.edges, x.components, x.largest,
                x.late_events) == (y.start_ms, y.end_ms, y.events, y.interactions, y.vertices, y.edges,
                                   y.components, y.largest, y.late_events)
        assert np.array_equal(x.members, y.members) and np.array_equal(x.offsets, y.offsets)
        assert np.array_equal(x.tree_edges, y.tree_edges)


@settings(max_examples=200, deadline=None)
@given(streams(), st.data())
def test_restored_engine_continues_exactly(case, data) -> None:
    batches, config = case
    cuts = sorted(data.draw(st.lists(st.integers(0, len(batches)), max_size=3)))
    engine = WindowEngine(config)
    got = []
    for i, b in enumerate(batches):
        if i in cuts:  # a crash here: a new engine from the snapshot (taken via a round trip through bytes)
            engine = WindowEngine.restore(config, {k: v.copy() for k, v in engine.snapshot().items()}, 64)
        got += engine.add(b.src, b.dst, b.times, b.event_times)
    if len(batches) in cuts:
        engine = WindowEngine.restore(config, engine.snapshot(), 64)
    got += engine.flush()
    want, _ = run(batches, config)
    _same(got, want)
    assert_same(got, expected_windows(batches, config)[0])


def test_restore_refuses_another_configuration() -> None:
    engine = WindowEngine(WindowConfig(size_ms=600, slide_ms=60))
    with pytest.raises(ValueError, match="window config"):
        WindowEngine.restore(WindowConfig(size_ms=1200, slide_ms=60), engine.snapshot(), 1)
