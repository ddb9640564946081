"""Store write throughput: batched transactions vs. one transaction per window, same windows, same run.

Windows are generated to look like GH Archive replay output (see DESIGN.md "Numbers"): per window ~20
clusters, one giant of 150..200 members and the rest heavy-tailed (Pareto) sizes from 3 up, drawn from a pool
of 20,000 recently active accounts so consecutive windows share members, as overlapping sliding windows do; 40
new logins arrive per window. Each cluster carries a random spanning tree. Generation is not timed, and the
initial pool's logins are stored before the clock starts, so the figure is the steady state.

    .venv/bin/python benchmarks/store_write.py [--windows 3000] [--batch 50] [--runs 3] [--retention N]

Prints per-run figures, then medians; the last line is
``windows_per_s=<n> baseline_windows_per_s=<n> ratio=<n>``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np

from networkpulse.engine.types import Cluster, Window
from networkpulse.store import open_store


class _Prefix(Sequence[str]):
    """The first ``n`` logins of a growing table, as the interner hands it over (no copy per call)."""

    def __init__(self, table: list[str], n: int) -> None:
        self._table, self._n = table, n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            return self._table[start:stop:step]
        return self._table[i]


def generate(n_windows: int, seed: int = 1) -> tuple[list[Window], list[int], list[str]]:
    """``n_windows`` windows, the logins-table length at each, and the whole logins table. O(members)."""
    rng = np.random.default_rng(seed)
    pool_size, new_per_window = 20_000, 40
    windows, n_logins = [], []
    total = pool_size
    for k in range(n_windows):
        total += new_per_window
        sizes = np.minimum(3 + (rng.pareto(1.2, 19) * 2).astype(np.int64), 200)
        sizes = np.concatenate(([rng.integers(150, 201)], np.sort(sizes)[::-1]))
        active = rng.choice(pool_size, int(sizes.sum()), replace=False) + (total - pool_size)
        clusters, start = [], 0
        for size in sizes.tolist():
            members = np.sort(active[start : start + size]).astype(np.int32)
            start += size
            order = rng.permutation(members)
            parents = order[(rng.random(size - 1) * np.arange(1, size)).astype(np.int64)]
            clusters.append(Cluster(members, np.stack((order[1:], parents), axis=1).astype(np.int32)))
        vertices = int(sizes.sum()) * 3
        windows.append(
            Window.from_clusters(
                start_ms=1_420_113_600_000 + k * 60_000,
                end_ms=1_420_114_200_000 + k * 60_000,
                events=vertices * 3,
                interactions=vertices,
                vertices=vertices,
                edges=vertices - 200,
                components=vertices // 3,
                largest=int(sizes[0]),
                late_events=0,
                clusters=tuple(clusters),
            )
        )
        n_logins.append(total)
    return windows, n_logins, [f"user-{i}" for i in range(total)]


def run(
    path: Path,
    windows: list[Window],
    n_logins: list[int],
    table: list[str],
    batch: int,
    retention: int | None,
) -> float:
    """Windows per second writing ``windows`` in calls of ``batch`` windows to a fresh store at ``path``."""
    store = open_store(f"sqlite:///{path}", retention=retention)
    store.write(
        [], _Prefix(table, n_logins[0] - 40), {}
    )  # the accounts already active before the first window
    t0 = time.perf_counter()
    for i in range(0, len(windows), batch):
        chunk = windows[i : i + batch]
        store.write(chunk, _Prefix(table, n_logins[i + len(chunk) - 1]), {"events": i})
    elapsed = time.perf_counter() - t0
    store.close()
    return len(windows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--retention", type=int, default=None, help="also measure batched writes with retention"
    )
    parser.add_argument("--dir", type=Path, default=None, help="folder for the scratch databases")
    args = parser.parse_args()

    windows, n_logins, table = generate(args.windows)
    members = sum(c.size for w in windows for c in w.clusters) / len(windows)
    clusters = sum(len(w.clusters) for w in windows) / len(windows)
    print(
        f"generated {len(windows)} windows: {clusters:.0f} clusters, {members:.0f} members per window "
        f"(one giant of 150..200, Pareto tail from 3), {len(table)} logins"
    )
    batched, baseline, retained = [], [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for r in range(args.runs):
            # Alternate the order so drift on a shared machine does not favour one side.
            order = ("baseline", "batched") if r % 2 else ("batched", "baseline")
            for name in order:
                size = 1 if name == "baseline" else args.batch
                rate = run(Path(tmp) / f"{name}{r}.db", windows, n_logins, table, size, None)
                (baseline if name == "baseline" else batched).append(rate)
            if args.retention:
                path = Path(tmp) / f"retained{r}.db"
                retained.append(run(path, windows, n_logins, table, args.batch, args.retention))
            print(
                f"run {r}: batched({args.batch}) {batched[-1]:.0f} windows/s, one-per-transaction "
                f"{baseline[-1]:.0f} windows/s"
                + (f", batched+retention {retained[-1]:.0f}" if retained else "")
            )
    fast, slow = statistics.median(batched), statistics.median(baseline)
    if retained:
        print(f"median batched with retention={args.retention}: {statistics.median(retained):.0f} windows/s")
    print(f"median of {args.runs} runs; member rows per second batched: {fast * members:.0f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"windows_per_s={fast:.0f} baseline_windows_per_s={slow:.0f} ratio={fast / slow:.2f}")


if __name__ == "__main__":
    main()
