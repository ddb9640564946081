"""Momentum (slope, trend), bridging suggestions and recommendations on small hand-checked graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networkpulse.analytics import AnalyticsConfig, AnalyticsState, annotate
from networkpulse.analytics.momentum import adjacency, bridge_suggestions, momentum, slope, trend
from networkpulse.analytics.recommend import popularity, recommend, two_hop_scores
from networkpulse.engine import WindowConfig, WindowEngine


def test_slope_and_trend():
    assert slope([]) == 0.0 and slope([5]) == 0.0
    assert slope([1, 2, 3, 4]) == pytest.approx(1.0)
    assert slope(np.polyval([2.5, 1], np.arange(6)).tolist()) == pytest.approx(2.5)
    assert trend([10, 12, 14]) == 1 and trend([14, 12, 10]) == -1 and trend([10, 10, 11, 10]) == 0
    assert trend([7]) == 0
    series = [[], [5], [1, 2, 3, 4], [14, 12, 10], [10, 10, 11, 10], [3, 9], [0, 0, 0, 0, 50]]
    slopes, trends = momentum(series[1:])
    assert slopes.tolist() == pytest.approx([slope(s) for s in series[1:]])
    assert trends.tolist() == [trend(s) for s in series[1:]]


def test_activity_counts_pair_slides_and_momentum_follows_the_id():
    """Engine pairs → activity = Σ panes per pair; a growing conversation is growing, then receding."""
    engine = WindowEngine(WindowConfig(size_ms=3, slide_ms=1, min_size=3), cluster_pairs=True)
    windows = []
    chats = {0: [(1, 2)], 1: [(1, 2), (2, 3)], 2: [(1, 2), (2, 3), (3, 4)], 3: [], 4: []}
    for t, pairs in chats.items():
        src = np.array([a for a, _ in pairs], np.int32)
        dst = np.array([b for _, b in pairs], np.int32)
        windows += engine.add(src, dst, np.full(len(pairs), t, np.int64), np.array([t], np.int64))
    windows += engine.flush()
    _, notes = annotate(AnalyticsState(), windows, AnalyticsConfig(step_ms=1, momentum_windows=2))
    listed = [(w.end_ms, *n.lineage.ids.tolist(), *n.activity.tolist(), *n.trend.tolist())
              for w, n in zip(windows, notes, strict=True) if w.n_clusters]
    # Window [end - 3, end): ending at 2, pair (1,2) in panes 0 and 1, (2,3) in pane 1 → 3; at 3: 3 + 2 + 1;
    # at 4: 2 + 2 + 1; at 5: 1 + 1 + 1. Trend over the last two windows.
    assert listed == [(2, 1, 3, 0), (3, 1, 6, 1), (4, 1, 5, -1), (5, 1, 3, -1)]


def test_recommend_adamic_adar_excludes_partners_and_fills_with_popularity():
    adj = adjacency([(1, 2), (1, 3), (2, 4), (3, 4), (3, 5), (6, 7), (6, 8), (6, 9)])
    scores = two_hop_scores(adj, 1)
    assert set(scores) == {4, 5}  # two hops away; 2 and 3 are partners already
    assert scores[4] == pytest.approx(1 / math.log(2) + 1 / math.log(3))
    assert scores[5] == pytest.approx(1 / math.log(3))
    got = recommend(adj, 1, k=4)
    assert [v for v, _ in got] == [4, 5, 6, 7]  # then the most popular non-partners (6 has 3 partners)
    assert recommend(adj, 1, k=4, fill=False) == got[:2]
    assert popularity(adj)[0] == 3 or popularity(adj)[0] == 6
    assert two_hop_scores(adj, 1, "common_neighbours")[4] == 2.0
    assert two_hop_scores(adj, 1, "resource_allocation")[4] == pytest.approx(1 / 2 + 1 / 3)


def test_bridge_suggestions_prefer_past_partners_then_shared_ones_then_hubs():
    history = adjacency([(1, 10), (2, 20), (20, 3), (4, 30)])
    a, b = [1, 2, 4, 5], [10, 11, 3]
    degree = {1: 1, 2: 3, 4: 1, 5: 1, 10: 2, 11: 1, 3: 1}
    got = bridge_suggestions(a, b, history, degree, k=3)
    assert got[0][:2] == (1, 10) and got[0][2] >= 2  # they interacted before
    assert got[1][:2] == (2, 3) and 1 <= got[1][2] < 2  # a shared recent partner (20)
    assert got[2][2] < 1  # no evidence: the best-connected pair
    assert all(u in a and v in b for u, v, _ in got)
