"""Momentum of a cluster over its life, and who could bridge two growing clusters.

*Activity* of a cluster in a window is the number of (distinct pair, slide) cells in which two of its members
interacted: the sum over its distinct pairs of the panes (slides) of the window holding that pair. It counts
sustained conversation more than one burst, and needs nothing the engine does not keep (events are not
attributed to clusters by the engine; a pair's panes are). Windows without pairs (a caller that did not ask the
engine for them) use the member count instead.

*Momentum*: the least-squares slope of activity over the last ``n`` windows of the cluster's life (its id's
windows), in activity per window (one slide). ``growing`` when the slope exceeds ``band`` × the mean activity
of those windows, ``receding`` below minus that, else ``steady``; a cluster seen in fewer than two windows is
``steady``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

TRENDS = {1: "growing", 0: "steady", -1: "receding"}


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, … (0 for fewer than two). O(n), plain Python: the
    series are a handful of numbers, where numpy's per-call overhead is 20× the arithmetic."""
    n = len(values)
    if n < 2:
        return 0.0
    sx, sxx = n * (n - 1) / 2, (n - 1) * n * (2 * n - 1) / 6
    sy = float(sum(values))
    sxy = float(sum(x * y for x, y in enumerate(values)))
    return (n * sxy - sx * sy) / (n * sxx - sx * sx)


def trend(values: Sequence[float], band: float = 0.05) -> int:
    """+1 growing, 0 steady, -1 receding (see module doc). O(n)."""
    if len(values) < 2:
        return 0
    s, limit = slope(values), band * max(sum(values) / len(values), 1.0)
    return 1 if s > limit else -1 if s < -limit else 0


def momentum(series: Sequence[Sequence[float]], band: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slope` and :func:`trend` of many short series at once (one row per cluster of a window), in a
    fixed number of numpy operations: O(total length) with no numpy call per series."""
    n = len(series)
    if not n:
        return np.zeros(0, np.float64), np.zeros(0, np.int8)
    width = max(len(s) for s in series)
    y = np.array([(*(0.0,) * (width - len(s)), *s) for s in series], np.float64).reshape(n, width)
    lengths = np.fromiter((len(s) for s in series), np.int64, n)
    x = np.arange(width, dtype=np.float64)[None, :] - (width - lengths)[:, None]  # 0 … L-1, right-aligned
    valid = x >= 0
    x = np.where(valid, x, 0.0)
    sx, sxx = (lengths - 1) * lengths / 2, (lengths - 1) * lengths * (2 * lengths - 1) / 6
    sy, sxy = y.sum(axis=1), (x * y).sum(axis=1)
    den = lengths * sxx - sx * sx
    slopes = np.where(lengths >= 2, (lengths * sxy - sx * sy) / np.where(den > 0, den, 1.0), 0.0)
    limit = band * np.maximum(sy / lengths, 1.0)
    trends = np.where(lengths < 2, 0, np.where(slopes > limit, 1, np.where(slopes < -limit, -1, 0)))
    return slopes, trends.astype(np.int8)


def adjacency(pairs: Sequence[tuple[int, int]] | np.ndarray) -> dict[int, set[int]]:
    """Neighbour sets of an undirected pair list. O(pairs)."""
    adj: dict[int, set[int]] = {}
    for a, b in np.asarray(pairs, np.int64).reshape(-1, 2).tolist():
        if a != b:
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
    return adj


def bridge_suggestions(
    a: Sequence[int], b: Sequence[int], history: Mapping[int, set[int]], degree: Mapping[int, int], k: int = 5
) -> list[tuple[int, int, float]]:
    """The ``k`` pairs ``(u in a, v in b)`` that would join two clusters most cheaply, best first.

    Joining two components takes one new interaction; the question is which one is likeliest. ``score`` =
    ``2`` if ``u`` and ``v`` interacted in the recent ``history`` graph (they talked before and drifted apart)
    plus the Adamic–Adar index of ``(u, v)`` in ``history`` (shared recent partners, rarer ones weigh more),
    plus a tie-breaker ``< 1``: the product of their current degrees, normalised, so the best-connected members
    (brokers, whose new tie shortens the most paths) come first when there is no evidence. Scores ≥ 1 rest on
    evidence; below 1 they are hub pairings only. O(|a|·|b| + Σ history degrees of a).
    """
    b_set = set(b)
    scores: dict[tuple[int, int], float] = {}
    for u in a:
        near = history.get(u, set())
        for v in near & b_set:
            scores[(u, v)] = scores.get((u, v), 0.0) + 2.0
        for z in near:
            dz = len(history.get(z, ()))
            if dz < 2:
                continue
            for v in history[z] & b_set:
                if v != u:
                    scores[(u, v)] = scores.get((u, v), 0.0) + 1.0 / float(np.log(dz))
    top_a = sorted(a, key=lambda x: (-degree.get(x, 0), x))[: max(k, 1)]
    top_b = sorted(b, key=lambda x: (-degree.get(x, 0), x))[: max(k, 1)]
    scale = max(1, max((degree.get(x, 0) for x in a), default=0) * max((degree.get(x, 0) for x in b), default=0))
    for u in top_a:
        for v in top_b:
            scores.setdefault((u, v), 0.0)
    ranked = [(u, v, s + 0.999 * degree.get(u, 0) * degree.get(v, 0) / scale) for (u, v), s in scores.items()]
    ranked.sort(key=lambda t: (-t[2], t[0], t[1]))
    return ranked[:k]
