"""Connection recommendations evaluated honestly on the real GH Archive hours, against popularity and random.

Per file: the interactions of the earlier half of the hour (by event time) are the learning graph; the *new*
pairs of the later half (pairs not already seen in the earlier half) are the truth. Evaluated accounts: those in
the learning graph with at least one new pair later. Every method ranks accounts of the learning graph that are
not the account itself nor its current partners:

* ours — :func:`networkpulse.analytics.recommend.recommend`: Adamic–Adar over the learning graph, filled by
  popularity (fixed before any measurement, as the module says);
* Adamic–Adar alone (no fill) — what the graph alone predicts;
* popularity — most distinct partners in the learning graph;
* random — uniform, seeded.

precision@k = hits / k, recall@10 = hits / that account's new partners (including partners the learning graph
never saw, which no method can name), both averaged over evaluated accounts, pooled over the files. Nothing is
tuned: there is no parameter.

    .venv/bin/python benchmarks/recommend.py [files...]

Last line: precision_at_10=<n> popularity_precision_at_10=<n> ratio=<n>
"""

from __future__ import annotations

import argparse
import random
import resource
from collections.abc import Callable
from pathlib import Path

from networkpulse.analytics.momentum import adjacency
from networkpulse.analytics.recommend import popularity, recommend
from networkpulse.engine import Interner
from networkpulse.events import InputReport
from networkpulse.venturi import FilterStats, read_interactions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gharchive"
Ranker = Callable[[int, int], list[int]]


def split(path: Path) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Learning graph (earlier half) and new pairs (later half, not seen earlier) of one file."""
    interner = Interner()
    rows = []
    for b in read_interactions([str(path)], InputReport(), FilterStats()):
        rows += zip(interner.ids(b.src).tolist(), interner.ids(b.dst).tolist(), b.created_at_ms.tolist(), strict=True)
    times = [t for _, _, t in rows]
    middle = (min(times) + max(times)) // 2
    learn = adjacency([(a, b) for a, b, t in rows if t < middle])
    later = adjacency([(a, b) for a, b, t in rows if t >= middle])
    new = {u: {v for v in vs if v not in learn.get(u, set())} for u, vs in later.items()}
    return learn, {u: vs for u, vs in new.items() if vs and u in learn}


def evaluate(learn: dict[int, set[int]], truth: dict[int, set[int]], rank: Ranker) -> tuple[float, float, float, int]:
    p5 = p10 = r10 = 0.0
    for u, want in truth.items():
        got = rank(u, 10)
        p5 += len(set(got[:5]) & want) / 5
        p10 += len(set(got[:10]) & want) / 10
        r10 += len(set(got[:10]) & want) / len(want)
    n = len(truth)
    return p5, p10, r10, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    files = args.files or sorted(p for p in DATA.glob("*.json.gz") if "first" not in p.name)
    totals: dict[str, list[float]] = {}
    for path in files:
        learn, truth = split(path)
        popular = popularity(learn)
        vertices = sorted(learn)
        rng = random.Random(7)

        def pop(u: int, k: int, learn=learn, popular=popular) -> list[int]:
            mine = learn[u]
            return [v for v in popular if v != u and v not in mine][:k]

        def rand(u: int, k: int, learn=learn, vertices=vertices, rng=rng) -> list[int]:
            pool = [v for v in rng.sample(vertices, min(len(vertices), 4 * k + len(learn[u]) + 1))
                    if v != u and v not in learn[u]]
            return pool[:k]

        methods: dict[str, Ranker] = {
            "ours (Adamic-Adar + popularity fill)":
                lambda u, k, learn=learn, popular=popular: [v for v, _ in recommend(learn, u, k, popular=popular)],
            "Adamic-Adar alone": lambda u, k, learn=learn: [v for v, _ in recommend(learn, u, k, fill=False)],
            "popularity": pop,
            "random": rand,
        }
        reachable = sum(len(vs & set(learn)) for vs in truth.values()) / max(1, sum(map(len, truth.values())))
        print(f"{path.name}: {len(learn):,} accounts learnt, {len(truth):,} evaluated with "
              f"{sum(map(len, truth.values())):,} new pairs ({reachable:.0%} of whose partners the learning half saw)")
        for name, rank in methods.items():
            p5, p10, r10, n = evaluate(learn, truth, rank)
            acc = totals.setdefault(name, [0.0, 0.0, 0.0, 0])
            acc[0] += p5
            acc[1] += p10
            acc[2] += r10
            acc[3] += n
            print(f"  {name:38s} precision@5 {p5 / max(n, 1):.4f}  precision@10 {p10 / max(n, 1):.4f}  "
                  f"recall@10 {r10 / max(n, 1):.4f}")
    print("pooled over every evaluated account:")
    pooled = {}
    for name, (p5, p10, r10, n) in totals.items():
        pooled[name] = (p5 / n, p10 / n, r10 / n)
        print(f"  {name:38s} precision@5 {p5 / n:.4f}  precision@10 {p10 / n:.4f}  recall@10 {r10 / n:.4f}  ({n:,})")
    ours, pop_p10 = pooled["ours (Adamic-Adar + popularity fill)"][1], pooled["popularity"][1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB")
    print(f"precision_at_10={ours:.4f} popularity_precision_at_10={pop_p10:.4f} "
          f"ratio={ours / pop_p10 if pop_p10 else float('inf'):.3f}")


if __name__ == "__main__":
    main()
