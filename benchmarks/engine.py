"""Engine throughput vs. recomputing each window from scratch (scipy) vs. networkx, on one generated stream.

The stream is Zipf-skewed like GH Archive (a few accounts — popular repo owners — take most interactions; most
accounts appear once or twice) at the rate of a modern GH Archive hour (~1.7 k interactions per minute), so
windows are as sparse as real ones. Every window's counts are checked equal between the engine and scipy, and
a sample of windows' clusters against networkx. One core (numba is single-threaded here).

    .venv/bin/python benchmarks/engine.py [--edges 1000000] [--runs 3]

Last line: engine_edges_per_s=<n> scipy_edges_per_s=<n> ratio=<engine/scipy>
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import networkx as nx
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from networkpulse.engine import WindowConfig, WindowEngine

MINUTE = 60_000


def zipf_stream(n: int, rate_per_min: int, population: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite Zipf (p(rank r) ∝ r^-0.9) for actors and counterparts: the top account takes ~3 % and the top ten
    ~10 % of interactions, as in the real 2015 hour (2.4 % / 10 %)."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, population + 1, dtype=np.float64) ** -0.9)
    cdf /= cdf[-1]
    draw = int(n * 1.02) + 100

    def accounts() -> np.ndarray:
        perm = rng.permutation(population).astype(np.int32)  # popular accounts get scattered ids
        return perm[np.searchsorted(cdf, rng.random(draw))]

    src, dst = accounts(), accounts()
    keep = np.flatnonzero(src != dst)[:n]
    src, dst = first_appearance_ids(src[keep], dst[keep])
    minutes = n / rate_per_min
    times = np.sort(rng.integers(0, int(minutes * MINUTE), len(keep))).astype(np.int64)
    return src, dst, times


def first_appearance_ids(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber accounts in order of first appearance, exactly as the pipeline's Interner numbers logins."""
    both = np.stack([src, dst], axis=1).ravel()
    uniq, first, inverse = np.unique(both, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq), dtype=np.int32)
    ids = rank[inverse].reshape(-1, 2)
    return ids[:, 0].copy(), ids[:, 1].copy()


def shares(ids: np.ndarray) -> str:
    counts = np.sort(np.bincount(ids))[::-1]
    return f"top1 {counts[0] / len(ids):.1%} top10 {counts[:10].sum() / len(ids):.1%}"


def run_engine(src, dst, times, config: WindowConfig, batch: int) -> tuple[float, list]:
    engine = WindowEngine(config)
    windows = []
    start = time.perf_counter()
    for i in range(0, len(src), batch):
        t = times[i : i + batch]
        windows += engine.add(src[i : i + batch], dst[i : i + batch], t, t)
    windows += engine.flush()
    return time.perf_counter() - start, windows


def scipy_window(src, dst, times, start: int, end: int) -> tuple[int, int, int, int]:
    lo, hi = np.searchsorted(times, [start, end])
    a, b = src[lo:hi], dst[lo:hi]
    verts, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    n, m = len(verts), len(a)
    graph = coo_matrix((np.ones(m, np.int8), (inv[:m], inv[m:])), shape=(n, n)).tocsr()
    count, labels = connected_components(graph, directed=False)
    keys = np.unique((np.minimum(a, b).astype(np.int64) << 32) | np.maximum(a, b))
    largest = int(np.bincount(labels).max()) if n else 0
    return n, len(keys), count, largest


def run_scipy(src, dst, times, bounds) -> tuple[float, list]:
    start = time.perf_counter()
    out = [scipy_window(src, dst, times, s, e) for s, e in bounds]
    return time.perf_counter() - start, out


def run_networkx(src, dst, times, bounds, min_size: int) -> tuple[float, list]:
    start = time.perf_counter()
    out = []
    for s, e in bounds:
        lo, hi = np.searchsorted(times, [s, e])
        g = nx.Graph()
        g.add_edges_from(zip(src[lo:hi].tolist(), dst[lo:hi].tolist(), strict=True))
        out.append(sorted(sorted(c) for c in nx.connected_components(g) if len(c) >= min_size))
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--rate-per-min", type=int, default=1_700)
    ap.add_argument("--population", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20_000, help="interactions per engine.add call")
    ap.add_argument("--networkx-windows", type=int, default=40, help="windows checked/timed with networkx")
    args = ap.parse_args()

    src, dst, times = zipf_stream(args.edges, args.rate_per_min, args.population, seed=42)
    config = WindowConfig(size_ms=10 * MINUTE, slide_ms=MINUTE)
    n = len(src)
    hour = times < 60 * MINUTE
    print(f"stream: {n:,} edges, generated (Zipf-skewed over {args.population:,} accounts; first hour: actors "
          f"{shares(src[hour])}, counterparts {shares(dst[hour])}; real 2015 hour: 2.4%/10%), "
          f"{args.rate_per_min:,}/min over {times[-1] / MINUTE:,.0f} min of event time; W=10min S=1min")
    run_engine(src[:5000], dst[:5000], times[:5000], config, args.batch)  # JIT warm-up (cached after first run)

    engine_s, scipy_s = [], []
    for run in range(args.runs):
        e_s, windows = run_engine(src, dst, times, config, args.batch)
        bounds = [(w.start_ms, w.end_ms) for w in windows]
        s_s, reference = run_scipy(src, dst, times, bounds)
        got = [(w.vertices, w.edges, w.components, w.largest) for w in windows]
        if got != reference:
            bad = next(i for i, (g, r) in enumerate(zip(got, reference, strict=True)) if g != r)
            raise SystemExit(f"MISMATCH at window {bad}: engine {got[bad]} scipy {reference[bad]}")
        engine_s.append(e_s)
        scipy_s.append(s_s)
        print(f"run {run}: {len(windows)} windows, engine {n / e_s:,.0f} edges/s, scipy {n / s_s:,.0f} edges/s "
              f"(all {len(windows)} windows equal)")

    sample = bounds[len(bounds) // 2 : len(bounds) // 2 + args.networkx_windows]
    nx_s, nx_clusters = run_networkx(src, dst, times, sample, config.min_size)
    mid = windows[len(windows) // 2 : len(windows) // 2 + args.networkx_windows]
    mine = [sorted(sorted(c.members.tolist()) for c in w.clusters) for w in mid]
    assert mine == nx_clusters, "clusters differ from networkx"
    per_window_edges = np.mean([np.diff(np.searchsorted(times, b))[0] for b in sample])
    nx_rate = len(sample) * per_window_edges / nx_s / (config.size_ms // config.slide_ms)
    print(f"networkx: {len(sample)} windows in {nx_s:.2f} s → {nx_rate:,.0f} stream edges/s equivalent "
          f"(clusters equal to the engine's)")

    engine_rate = n / statistics.median(engine_s)
    scipy_rate = n / statistics.median(scipy_s)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median of {args.runs}: engine {engine_rate:,.0f} edges/s, scipy per window {scipy_rate:,.0f} edges/s, "
          f"networkx {nx_rate:,.0f} edges/s; engine/networkx {engine_rate / nx_rate:.0f}x; peak RSS {rss:.0f} MiB")
    ratio = engine_rate / scipy_rate
    print(f"engine_edges_per_s={engine_rate:.0f} scipy_edges_per_s={scipy_rate:.0f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
