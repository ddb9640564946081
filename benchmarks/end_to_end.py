"""Raw GH Archive ``.json.gz`` → windows stored in SQLite, as fast as possible, on one core.

The real 2015 hour (../shared/data/gharchive, bundled in the package too) is replayed ``--loops`` times with
event time shifted by one hour per loop, so the stream is ≥ 1 M real events whose every byte is gunzipped,
decoded, filtered, windowed and stored again. The baseline, measured in the same run on the same bytes, is
gunzip alone (isal, the fastest inflater here) — the physical limit DESIGN.md names.

    .venv/bin/python benchmarks/end_to_end.py [--loops 121] [--runs 3]

Rates are per core: events per CPU-second of this process (the pipeline is one thread), so a busy machine
skews them less than wall-clock rates; the wall-clock time is printed too.

Last line: events_per_s=<n> gunzip_events_per_s=<n> ratio=<n>
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from isal import isal_zlib

from networkpulse.engine import WindowConfig
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings, bundled_sources


def gunzip_seconds(data: bytes, loops: int) -> float:
    """CPU seconds to decompress the whole file ``loops`` times, one call each: the fastest gunzip here."""
    start = time.process_time()
    for _ in range(loops):
        isal_zlib.decompress(data, wbits=31)
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=bundled_sources()[0])
    ap.add_argument("--loops", type=int, default=121, help="replays of the file (121 × 8,273 events ≥ 1 M)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    data = Path(args.source).read_bytes()
    pipeline_rates, gunzip_rates = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                sources=(args.source,),
                window=WindowConfig(size_ms=10 * 60_000, slide_ms=60_000),
                store_url=f"sqlite:///{tmp}/bench.db",
                loops=args.loops,
            )
            cpu0 = time.process_time()
            result = Pipeline(settings).run()
            cpu = time.process_time() - cpu0
            p = result.progress
            db_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
        events_per_loop = p.events / args.loops
        g_s = gunzip_seconds(data, args.loops)
        pipeline_rates.append(p.events / cpu)
        gunzip_rates.append(events_per_loop * args.loops / g_s)
        print(f"run {run}: {p.events:,} events, {p.interactions:,} interactions, {p.windows:,} windows stored "
              f"({db_mb:.0f} MB) in {p.elapsed_s:.2f} s wall, {cpu:.2f} s CPU → {pipeline_rates[-1]:,.0f} events per "
              f"CPU-second; gunzip alone {gunzip_rates[-1]:,.0f}; skipped {result.report.skipped}")
    rate, g_rate = statistics.median(pipeline_rates), statistics.median(gunzip_rates)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median of {args.runs}, per core (events per CPU-second of this single-threaded process, so other load "
          f"on the machine does not count): {rate:,.0f} raw events/s end to end vs {g_rate:,.0f} events/s gunzip "
          f"only; peak RSS {rss:.0f} MiB")
    print(f"events_per_s={rate:.0f} gunzip_events_per_s={g_rate:.0f} ratio={rate / g_rate:.3f}")


if __name__ == "__main__":
    main()
