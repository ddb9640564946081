r"""Engine throughput vs. recomputing each window from scratch (scipy) vs. networkx, on one generated stream.

The stream is Zipf-skewed like GH Archive (a few accounts — popular repo owners — take most interactions; most
accounts appear once or twice) at the rate of a modern GH Archive hour (~1.7 k interactions per minute), so
windows are as sparse as real ones. Every window's counts are checked equal between the engine and scipy, and
a sample of windows' clusters against networkx. One core (numba is single-threaded here).

A second, *dense* stream runs first: the same generator at 10× the rate (16.7 k interactions per minute, ~167 k
edges per 10-minute window, a giant cluster of tens of thousands). Its figures are printed on the line before the
last (``dense_ratio``). The JIT load happens before any timed region.

    taskset -c 0 .venv/bin/python benchmarks/engine.py [--edges 1000000] [--runs 3] [--old DIR]

``--old DIR`` times an earlier engine in the same run, interleaved, on the same streams: copy it with
``git archive <commit> src/networkpulse/engine | tar -x -C /tmp/x && cp -r /tmp/x/src/networkpulse/engine
DIR/oldengine && sed -i 's/networkpulse\.engine/oldengine/g' DIR/oldengine/*.py``.

Last line: engine_edges_per_s=<n> scipy_edges_per_s=<n> ratio=<engine/scipy> (the sparse stream)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
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


def run_engine(cls: type, src, dst, times, config: WindowConfig, batch: int) -> tuple[float, list]:
    engine = cls(config)
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


def load_engine(old: str | None) -> list[tuple[str, type]]:
    """The engines to time: this tree's, and with ``--old DIR`` an earlier engine copied there as package
    ``oldengine`` (see the module docstring), timed in the same run on the same stream."""
    engines: list[tuple[str, type]] = [("engine", WindowEngine)]
    if old:
        sys.path.insert(0, old)
        from oldengine import WindowEngine as OldEngine  # type: ignore[import-not-found]

        engines.append(("old engine", OldEngine))
    return engines


def measure(label: str, stream: tuple[np.ndarray, np.ndarray, np.ndarray], config: WindowConfig,
            engines: list[tuple[str, type]], args: argparse.Namespace, nx_windows: int) -> tuple[float, float]:
    """Time every engine and scipy ``--runs`` times (interleaved), check every window's counts against scipy and
    a sample's clusters against networkx; returns the medians (engine, scipy) in stream edges per second."""
    src, dst, times = stream
    n = len(src)
    for _, cls in engines:  # JIT load (cached on disk after the first run) outside the timed region
        run_engine(cls, src[:5000], dst[:5000], times[:5000], config, args.batch)
    rates: dict[str, list[float]] = {name: [] for name, _ in engines}
    scipy_s = []
    for run in range(args.runs):
        line = []
        for name, cls in engines:
            e_s, windows = run_engine(cls, src, dst, times, config, args.batch)
            rates[name].append(n / e_s)
            line.append(f"{name} {n / e_s:,.0f}")
        bounds = [(w.start_ms, w.end_ms) for w in windows]
        s_s, reference = run_scipy(src, dst, times, bounds)
        got = [(w.vertices, w.edges, w.components, w.largest) for w in windows]
        if got != reference:
            bad = next(i for i, (g, r) in enumerate(zip(got, reference, strict=True)) if g != r)
            raise SystemExit(f"MISMATCH at window {bad}: engine {got[bad]} scipy {reference[bad]}")
        scipy_s.append(s_s)
        print(f"{label} run {run}: {len(windows)} windows, {', '.join(line)}, scipy {n / s_s:,.0f} edges/s "
              f"(all {len(windows)} windows equal; {n * config.size_ms / max(times[-1], 1):,.0f} edges per window)")
    _, windows = run_engine(WindowEngine, src, dst, times, config, args.batch)
    bounds = [(w.start_ms, w.end_ms) for w in windows]
    mid = len(bounds) // 2
    sample = bounds[mid : mid + nx_windows]
    nx_s, nx_clusters = run_networkx(src, dst, times, sample, config.min_size)
    mine = [sorted(sorted(c.members.tolist()) for c in w.clusters) for w in windows[mid : mid + nx_windows]]
    assert mine == nx_clusters, "clusters differ from networkx"
    per_window_edges = np.mean([np.diff(np.searchsorted(times, b))[0] for b in sample])
    nx_rate = len(sample) * per_window_edges / nx_s / (config.size_ms // config.slide_ms)
    print(f"{label} networkx: {len(sample)} windows in {nx_s:.2f} s → {nx_rate:,.0f} stream edges/s equivalent "
          f"(clusters equal to the engine's)")
    scipy_rate = n / statistics.median(scipy_s)
    summary = []
    for name, _ in engines:
        r = rates[name]
        summary.append(f"{name} {statistics.median(r):,.0f} edges/s (range {min(r):,.0f}–{max(r):,.0f}, "
                       f"{statistics.median(r) / scipy_rate:.2f}× scipy)")
    print(f"{label} median of {args.runs}: {'; '.join(summary)}; scipy per window {scipy_rate:,.0f} edges/s; "
          f"networkx {nx_rate:,.0f}")
    if len(engines) > 1:
        speedup = statistics.median(rates["engine"]) / statistics.median(rates["old engine"])
        print(f"{label} new/old engine: {speedup:.2f}×")
    return statistics.median(rates["engine"]), scipy_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--rate-per-min", type=int, default=1_700)
    ap.add_argument("--dense-rate-per-min", type=int, default=16_700, help="the dense stream (0: skip it)")
    ap.add_argument("--population", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20_000, help="interactions per engine.add call")
    ap.add_argument("--networkx-windows", type=int, default=40, help="windows checked/timed with networkx")
    ap.add_argument("--old", help="a folder holding an earlier engine as package `oldengine`, timed alongside")
    args = ap.parse_args()
    engines = load_engine(args.old)
    config = WindowConfig(size_ms=10 * MINUTE, slide_ms=MINUTE)

    dense_rate = None
    if args.dense_rate_per_min:
        stream = zipf_stream(args.edges, args.dense_rate_per_min, args.population, seed=43)
        print(f"dense stream: {len(stream[0]):,} edges, generated like the sparse one at "
              f"{args.dense_rate_per_min:,}/min over {stream[2][-1] / MINUTE:,.0f} min; W=10min S=1min")
        engine_rate, scipy_rate = measure("dense", stream, config, engines, args, 3)
        dense_rate = (engine_rate, scipy_rate)

    src, dst, times = stream = zipf_stream(args.edges, args.rate_per_min, args.population, seed=42)
    hour = times < 60 * MINUTE
    print(f"stream: {len(src):,} edges, generated (Zipf-skewed over {args.population:,} accounts; first hour: "
          f"actors {shares(src[hour])}, counterparts {shares(dst[hour])}; real 2015 hour: 2.4%/10%), "
          f"{args.rate_per_min:,}/min over {times[-1] / MINUTE:,.0f} min of event time; W=10min S=1min")
    engine_rate, scipy_rate = measure("sparse", stream, config, engines, args, args.networkx_windows)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if dense_rate:
        print(f"dense_engine_edges_per_s={dense_rate[0]:.0f} dense_scipy_edges_per_s={dense_rate[1]:.0f} "
              f"dense_ratio={dense_rate[0] / dense_rate[1]:.2f}")
    print(f"peak RSS {rss:.0f} MiB")
    ratio = engine_rate / scipy_rate
    print(f"engine_edges_per_s={engine_rate:.0f} scipy_edges_per_s={scipy_rate:.0f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
