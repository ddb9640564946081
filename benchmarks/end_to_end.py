"""Raw GH Archive ``.json.gz`` → windows stored in SQLite, as fast as possible, on one core.

The real 2015 hour (../shared/data/gharchive, bundled in the package too) is replayed ``--loops`` times with
event time shifted by one hour per loop, so the stream is ≥ 1 M real events whose every byte is gunzipped,
decoded, filtered, windowed and stored again. The baseline, measured in the same run on the same bytes, is
gunzip alone (isal, the fastest inflater here) — the physical limit DESIGN.md names.

    taskset -c 0 .venv/bin/python benchmarks/end_to_end.py [--loops 121] [--runs 3]
    taskset -c 0,1 .venv/bin/python benchmarks/end_to_end.py --workers 2

With ``--workers 1`` (the default) rates are per core: events per CPU-second of this process (the pipeline is one
thread), so a busy machine skews them less than wall-clock rates; the wall-clock time is printed too. With
``--workers N`` a worker process parses each loop while this one applies (``pulse run --workers N``): the rate is
then events per *wall* second, compared with the one-core gunzip rate, and the CPU seconds of this process and its
workers are printed beside it.

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
    """CPU seconds to decompress the whole file ``loops`` times, one call each (the baseline of the ratio)."""
    start = time.process_time()
    for _ in range(loops):
        isal_zlib.decompress(data, wbits=31)
    return time.process_time() - start


def streamed_gunzip_seconds(data: bytes, loops: int) -> float:
    """CPU seconds to decompress the file ``loops`` times in 1 MiB pieces, as the pipeline reads it
    (events/sources.py). Measured here this is ~1.8x faster than one call for the whole file (no 18 MB output
    to grow and fault in), so it is printed beside the ratio as the stricter physical limit."""
    start = time.process_time()
    for _ in range(loops):
        inflater = isal_zlib.decompressobj(wbits=31)
        for at in range(0, len(data), 256 << 10):
            inflater.decompress(data[at : at + (256 << 10)], 1 << 20)
            while inflater.unconsumed_tail:
                inflater.decompress(inflater.unconsumed_tail, 1 << 20)
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=bundled_sources()[0])
    ap.add_argument("--loops", type=int, default=121, help="replays of the file (121 × 8,273 events ≥ 1 M)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="parsing processes (1: parse in this process)")
    args = ap.parse_args()

    data = Path(args.source).read_bytes()
    pipeline_rates, gunzip_rates, streamed_rates = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                sources=(args.source,),
                window=WindowConfig(size_ms=10 * 60_000, slide_ms=60_000),
                store_url=f"sqlite:///{tmp}/bench.db",
                loops=args.loops,
                workers=args.workers,
            )
            cpu0, children0, wall0 = time.process_time(), _children_cpu(), time.perf_counter()
            result = Pipeline(settings).run()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            workers_cpu = _children_cpu() - children0
            p = result.progress
            db_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
        events_per_loop = p.events / args.loops
        g_s = gunzip_seconds(data, args.loops)
        pipeline_rates.append(p.events / (cpu if args.workers == 1 else wall))
        gunzip_rates.append(events_per_loop * args.loops / g_s)
        streamed_rates.append(events_per_loop * args.loops / streamed_gunzip_seconds(data, args.loops))
        unit = "CPU-second" if args.workers == 1 else f"wall second ({args.workers} workers: {workers_cpu:.2f} s CPU)"
        print(f"run {run}: {p.events:,} events, {p.interactions:,} interactions, {p.windows:,} windows stored "
              f"({db_mb:.0f} MB) in {wall:.2f} s wall, {cpu:.2f} s CPU → {pipeline_rates[-1]:,.0f} events per "
              f"{unit}; gunzip alone {gunzip_rates[-1]:,.0f} per CPU-second; skipped {result.report.skipped}")
    rate, g_rate = statistics.median(pipeline_rates), statistics.median(gunzip_rates)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = ("per core (events per CPU-second of this single-threaded process, so other load on the machine does not "
            "count)" if args.workers == 1 else f"with {args.workers} parsing workers (events per wall second)")
    print(f"median of {args.runs} (ranges: {min(pipeline_rates):,.0f}–{max(pipeline_rates):,.0f} end to end, "
          f"{min(gunzip_rates):,.0f}–{max(gunzip_rates):,.0f} gunzip), {what}: {rate:,.0f} raw events/s end to end vs "
          f"{g_rate:,.0f} events/s gunzip only (one core); peak RSS {rss:.0f} MiB")
    streamed = statistics.median(streamed_rates)
    print(f"streamed gunzip (1 MiB pieces, as the pipeline reads): {streamed:,.0f} events/s; end to end / streamed "
          f"{rate / streamed:.3f}")
    print(f"events_per_s={rate:.0f} gunzip_events_per_s={g_rate:.0f} ratio={rate / g_rate:.3f}")


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the parsing workers, once a run has ended)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
