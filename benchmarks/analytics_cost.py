"""What the analytics stage costs end to end: `pulse run`'s pipeline with analytics on vs off, same run.

Raw GH Archive ``.json.gz`` → windows stored in SQLite, as benchmarks/end_to_end.py does (the real 2015 hour
replayed ``--loops`` times with event time shifted an hour per loop). With analytics on, the engine also emits
each cluster's distinct pairs and the analytics stage adds stable ids, lineage, articulation points, bridges
and momentum, all stored; off is the pipeline as before (the baseline, measured in the same run, alternating
on/off so machine load hits both alike). Correctness check: both stores hold the same windows, and the
analytics store has an annotation row for every window with clusters.

    .venv/bin/python benchmarks/analytics_cost.py [--loops 40] [--runs 3]

Rates are per core (events per CPU-second of this single-threaded process). Must keep ratio >= 0.7.

Last line: with_analytics_events_per_s=<n> without_events_per_s=<n> ratio=<n>
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from networkpulse.engine import WindowConfig
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings, bundled_sources


def run_once(source: str, loops: int, analytics: bool, folder: str) -> tuple[float, int, Path]:
    db = Path(folder) / f"bench-{'on' if analytics else 'off'}.db"
    settings = Settings(sources=(source,), window=WindowConfig(size_ms=10 * 60_000, slide_ms=60_000),
                        store_url=f"sqlite:///{db}", loops=loops)
    cpu0 = time.process_time()
    result = Pipeline(settings, analytics=analytics).run()
    return time.process_time() - cpu0, result.progress.events, db


def check(on: Path, off: Path) -> int:
    """Both stores hold the same windows; every window with clusters has its annotations. Returns windows."""
    query = "SELECT start_ms, end_ms, events, vertices, components, largest, n_clusters FROM windows ORDER BY 1, 2"
    with sqlite3.connect(on) as a, sqlite3.connect(off) as b:
        windows = a.execute(query).fetchall()
        assert windows == b.execute(query).fetchall(), "analytics changed the stored windows"
        with_clusters = a.execute("SELECT count(*) FROM windows WHERE n_clusters > 0").fetchone()[0]
        annotated = a.execute("SELECT count(*) FROM analytics a JOIN windows w ON w.id = a.window_id "
                              "WHERE w.n_clusters > 0").fetchone()[0]
        assert annotated == with_clusters, f"{annotated} of {with_clusters} windows annotated"
        assert b.execute("SELECT count(*) FROM analytics").fetchone()[0] == 0
    return len(windows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=bundled_sources()[0])
    ap.add_argument("--loops", type=int, default=40, help="replays of the file (40 × 8,273 events = 330,920)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    on_rates, off_rates = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            # Alternate which goes first, so a warming cache or a burst of load favours neither.
            order = (True, False) if run % 2 == 0 else (False, True)
            got = {flag: run_once(args.source, args.loops, flag, tmp) for flag in order}
            windows = check(got[True][2], got[False][2])
        (cpu_on, events, _), (cpu_off, events_off, _) = got[True], got[False]
        assert events == events_off
        on_rates.append(events / cpu_on)
        off_rates.append(events / cpu_off)
        print(f"run {run}: {events:,} events, {windows:,} windows: analytics on {cpu_on:.2f} s CPU "
              f"({on_rates[-1]:,.0f} events/s), off {cpu_off:.2f} s ({off_rates[-1]:,.0f} events/s), "
              f"ratio {on_rates[-1] / off_rates[-1]:.3f}")
    on, off = statistics.median(on_rates), statistics.median(off_rates)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median of {args.runs}, per core: {on:,.0f} events/s with analytics vs {off:,.0f} without; "
          f"peak RSS {rss:.0f} MiB")
    print(f"with_analytics_events_per_s={on:.0f} without_events_per_s={off:.0f} ratio={on / off:.3f}")


if __name__ == "__main__":
    main()
