"""Store write throughput: batched transactions vs. one transaction per window, same windows, same run.

Windows are generated to look like GH Archive replay output (see DESIGN.md "Numbers"): per window ~20
clusters, one giant of 150..200 members and the rest heavy-tailed (Pareto) sizes from 3 up, drawn from a pool
of 20,000 recently active accounts; 40 new logins arrive per window. As in sliding windows with W/S = 10, an
account stays in the windows' clusters for ~10 consecutive windows (each window takes a tenth of its members
fresh from the pool and keeps the rest; the real 2015 replay has 9.6 windows per membership run): until
2026-11 the members were drawn afresh per window, so no account stayed, which no sliding window does and which
the store's membership runs (schema v5) are built on. Each cluster carries a random spanning tree. Generation is
not timed, and the initial pool's logins are stored before the clock starts, so the figure is the steady state.

    .venv/bin/python benchmarks/store_write.py [--windows 3000] [--batch 50] [--runs 3] [--retention N]
        [--store postgresql://USER:PASSWORD@HOST:PORT/DB]

``--store``: measure that store instead of a SQLite file in a temporary folder. A PostgreSQL store gets a fresh
schema per run (created and dropped here, so the URL's role needs CREATE on the database), and every run then also
measures the SQLite store on the same windows, so the two are compared on one machine at one time.

Prints per-run figures, then medians; the last line is
``windows_per_s=<n> baseline_windows_per_s=<n> ratio=<n>`` (batched vs one transaction per window, for the store
measured).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
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
    staying: list[int] = []  # the members of the previous window, oldest arrival first
    for k in range(n_windows):
        total += new_per_window
        sizes = np.minimum(3 + (rng.pareto(1.2, 19) * 2).astype(np.int64), 200)
        sizes = np.concatenate(([rng.integers(150, 201)], np.sort(sizes)[::-1]))
        n = int(sizes.sum())
        kept = staying[-(n - max(1, n // 10)) :]  # a tenth leave (the oldest), a tenth arrive
        taken = set(kept)
        fresh = [a for a in (rng.choice(pool_size, 2 * n, replace=False) + (total - pool_size)).tolist()
                 if a not in taken][: n - len(kept)]
        staying = kept + fresh
        active = np.array(staying, np.int64)
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


@contextlib.contextmanager
def fresh_store(store: str | None, folder: str, name: str) -> Iterator[str]:
    """The URL of a new, empty store: a SQLite file in ``folder``, or a new schema of the PostgreSQL ``store``."""
    if store is None or store.startswith("sqlite"):
        yield f"sqlite:///{folder}/{name}.db"
        return
    import psycopg

    schema = f"pulse_bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(store, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{store}{'&' if '?' in store else '?'}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(
    url: str,
    windows: list[Window],
    n_logins: list[int],
    table: list[str],
    batch: int,
    retention: int | None,
) -> float:
    """Windows per second writing ``windows`` in calls of ``batch`` windows to the fresh store at ``url``."""
    store = open_store(url, retention=retention)
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
    parser.add_argument("--store", default=None, help="a postgresql:// URL to measure (default: a SQLite file)")
    args = parser.parse_args()
    versus = args.store is not None and not args.store.startswith("sqlite")  # also measure SQLite, same run

    windows, n_logins, table = generate(args.windows)
    members = sum(c.size for w in windows for c in w.clusters) / len(windows)
    clusters = sum(len(w.clusters) for w in windows) / len(windows)
    print(
        f"generated {len(windows)} windows: {clusters:.0f} clusters, {members:.0f} members per window "
        f"(one giant of 150..200, Pareto tail from 3), {len(table)} logins"
    )
    kind = "sqlite" if not versus else "postgresql"
    batched, baseline, retained, sqlite_batched, sqlite_retained = [], [], [], [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for r in range(args.runs):
            # Alternate the order so drift on a shared machine does not favour one side.
            order = ["baseline", "batched", *(["sqlite"] if versus else [])]
            for name in reversed(order) if r % 2 else order:
                size = 1 if name == "baseline" else args.batch
                with fresh_store(None if name == "sqlite" else args.store, tmp, f"{name}{r}") as url:
                    rate = run(url, windows, n_logins, table, size, None)
                {"baseline": baseline, "batched": batched, "sqlite": sqlite_batched}[name].append(rate)
            if args.retention:
                with fresh_store(args.store, tmp, f"retained{r}") as url:
                    retained.append(run(url, windows, n_logins, table, args.batch, args.retention))
                if versus:
                    with fresh_store(None, tmp, f"sqlite_retained{r}") as url:
                        sqlite_retained.append(run(url, windows, n_logins, table, args.batch, args.retention))
            print(
                f"run {r}: {kind} batched({args.batch}) {batched[-1]:.0f} windows/s, one-per-transaction "
                f"{baseline[-1]:.0f} windows/s"
                + (f", batched+retention {retained[-1]:.0f}" if retained else "")
                + (f"; sqlite batched({args.batch}) {sqlite_batched[-1]:.0f} windows/s" if versus else "")
                + (f", batched+retention {sqlite_retained[-1]:.0f}" if sqlite_retained else "")
            )
    fast, slow = statistics.median(batched), statistics.median(baseline)
    if retained:
        print(f"median batched with retention={args.retention}: {statistics.median(retained):.0f} windows/s")
    if versus:
        lite = statistics.median(sqlite_batched)
        print(f"median batched: postgresql {fast:.0f} windows/s, sqlite {lite:.0f} windows/s "
              f"(postgresql/sqlite {fast / lite:.2f})")
        if sqlite_retained:
            kept, lite_kept = statistics.median(retained), statistics.median(sqlite_retained)
            print(f"median batched with retention={args.retention}: postgresql {kept:.0f} windows/s, sqlite "
                  f"{lite_kept:.0f} windows/s (postgresql/sqlite {kept / lite_kept:.2f})")
    print(f"median of {args.runs} runs; member rows per second batched: {fast * members:.0f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"windows_per_s={fast:.0f} baseline_windows_per_s={slow:.0f} ratio={fast / slow:.2f}")


if __name__ == "__main__":
    main()
