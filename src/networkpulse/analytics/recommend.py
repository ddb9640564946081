"""Connection recommendations: who an account is likely to interact with next, excluding its current partners.

The score is the **Adamic–Adar** index over the recent interaction graph (the union of the pairs of recent
windows): ``Σ 1 / log(deg z)`` over the common partners ``z`` of the two accounts, so a shared partner who talks
to few people counts more than a hub everybody touches. On these graphs (sparse, almost forests) most accounts
have fewer than ten accounts two hops away, so the list is *filled* with the most active accounts of the recent
graph (popularity: distinct partners), scored below every Adamic–Adar candidate. That choice was made before
any measurement (benchmarks/recommend.py reports Adamic–Adar alone too, and both baselines).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

ScoreFn = str  # "adamic_adar" | "common_neighbours" | "resource_allocation"


def two_hop_scores(adj: Mapping[int, set[int]], u: int, how: ScoreFn = "adamic_adar") -> dict[int, float]:
    """Scores of every account two hops from ``u`` that is not ``u`` nor already its partner.
    O(Σ deg(z) over u's partners z)."""
    mine = adj.get(u, set())
    scores: dict[int, float] = {}
    for z in mine:
        near = adj[z]
        dz = len(near)
        if how == "adamic_adar":
            w = 1.0 / math.log(dz) if dz > 1 else 0.0
        elif how == "resource_allocation":
            w = 1.0 / dz
        else:
            w = 1.0
        if w == 0.0:
            continue
        for v in near:
            if v != u and v not in mine:
                scores[v] = scores.get(v, 0.0) + w
    return scores


def popularity(adj: Mapping[int, set[int]]) -> list[int]:
    """Accounts by distinct partners, most first (ties: smaller id). O(V log V)."""
    return sorted(adj, key=lambda v: (-len(adj[v]), v))


def recommend(
    adj: Mapping[int, set[int]],
    u: int,
    k: int = 10,
    *,
    popular: Sequence[int] | None = None,
    how: ScoreFn = "adamic_adar",
    fill: bool = True,
) -> list[tuple[int, float]]:
    """Up to ``k`` ``(account, score)`` for ``u``, best first: two-hop candidates by ``how`` (ties: smaller id),
    then, with ``fill``, the most popular accounts not yet listed nor partners, scored 0. ``popular``: a
    precomputed :func:`popularity` order (pass it when recommending for many accounts). O(two-hop work +
    k + skipped popular accounts)."""
    scores = two_hop_scores(adj, u, how)
    out = sorted(scores.items(), key=lambda t: (-t[1], t[0]))[:k]
    if fill and len(out) < k:
        mine = adj.get(u, set())
        seen = {v for v, _ in out}
        for v in popular if popular is not None else popularity(adj):
            if len(out) >= k:
                break
            if v != u and v not in mine and v not in seen:
                out.append((v, 0.0))
    return out
