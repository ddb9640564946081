"""Memory on an endless stream with steady account churn: RSS after 10 % and at the end of 24 h of event time.

The stream is generated (no real data holds a day of churn): every minute of event time brings ``--rate``
interactions between a steady core of ``--core`` accounts (Zipf-weighted, the popular repo owners) and accounts
new that minute (``--new`` per minute, each active for one to a few minutes and never again), so a day sees
~1.4 M distinct accounts while a 10-minute window holds ~20 k. It runs through the embedded path ``pulse run``
uses — :class:`networkpulse.pipeline.Pipeline` (interning, engine, analytics, checkpoints, SQLite store with
retention) — fed by a generator instead of files. RSS is read from ``/proc/self/status``.

    taskset -c 0 .venv/bin/python benchmarks/memory.py [--hours 24]

The engine's scratch follows the window (compact slots). The pipeline's interner does not forget accounts yet:
``Interner.retain`` exists and is tested, but calling it from the pipeline broke resume exactness (a resumed run
renumbered accounts that came back after leaving the window), so this figure still grows with the accounts seen.
Last line: rss_start_mb=<n> rss_end_mb=<n> ratio=<end/start>
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from networkpulse.engine import WindowConfig
from networkpulse.events.sources import STDIN
from networkpulse.pipeline import Pipeline
from networkpulse.settings import Settings
from networkpulse.venturi.types import InteractionBatch

MINUTE = 60_000
START_MS = 1_420_070_400_000  # 2015-01-01T00:00:00Z


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def churn(minutes: int, rate: int, core: int, new: int, seed: int) -> Iterator[tuple[int, InteractionBatch]]:
    """(minute, batch) for every minute: ``rate`` interactions, each between a core account (p ∝ rank^-0.9) or
    an account new in the last few minutes, and another such account."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, core + 1, dtype=np.float64) ** -0.9)
    cdf /= cdf[-1]
    core_logins = [f"Core{i}" for i in range(core)]
    for minute in range(minutes):
        # Half the endpoints from the core, half from accounts born in the last 3 minutes (each lives ~3 panes).
        born = rng.integers(max(0, minute - 2), minute + 1, 2 * rate)
        fresh = born * new + rng.integers(0, new, 2 * rate)
        from_core = rng.random(2 * rate) < 0.5
        picks = np.searchsorted(cdf, rng.random(2 * rate))
        logins = [core_logins[p] if c else f"u{f}" for p, f, c in zip(picks.tolist(), fresh.tolist(),
                                                                   from_core.tolist(), strict=True)]
        src, dst = logins[:rate], logins[rate:]
        keep = [i for i in range(rate) if src[i].lower() != dst[i].lower()]
        times = np.sort(rng.integers(0, MINUTE, len(keep))).astype(np.int64) + START_MS + minute * MINUTE
        yield minute, InteractionBatch(
            src=[src[i] for i in keep], dst=[dst[i] for i in keep], kind=["owner"] * len(keep),
            event_type=["WatchEvent"] * len(keep), created_at_ms=times, event_id=[""] * len(keep),
            event_times_ms=times, source=STDIN, event_lines=np.arange(1, len(keep) + 1, dtype=np.int64),
        )


class ChurnPipeline(Pipeline):
    """The embedded pipeline fed by :func:`churn` instead of files; samples RSS after 10 % of the stream."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        super().__init__(settings)
        self.args = args
        self.minutes = args.hours * 60
        self.samples: dict[str, float] = {}

    def _batches(self, quarantine: IO[str] | None) -> Iterator[InteractionBatch]:
        a = self.args
        for minute, batch in churn(self.minutes, a.rate, a.core, a.new, seed=7):
            if minute == self.minutes // 10:
                self.samples["start"] = rss_mb()
                self._say(minute)
            elif minute and minute % (self.minutes // 5) == 0:
                self._say(minute)
            yield batch

    def _say(self, minute: int) -> None:
        interner = self._interner
        print(f"{minute / 60:5.1f} h of event time: RSS {rss_mb():6.1f} MiB, interner {interner.held:,} logins "
              f"held of {len(interner):,} ids", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--rate", type=int, default=2_000, help="interactions per minute of event time")
    ap.add_argument("--core", type=int, default=5_000, help="accounts active all day")
    ap.add_argument("--new", type=int, default=1_000, help="accounts born per minute")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            sources=(STDIN,), window=WindowConfig(size_ms=10 * MINUTE, slide_ms=MINUTE),
            store_url=f"sqlite:///{os.path.join(tmp, 'pulse.db')}", retention=1_000,
        )
        pipeline = ChurnPipeline(settings, args)
        began = time.perf_counter()
        result = pipeline.run()
        end = rss_mb()
        pipeline._say(pipeline.minutes)
    start = pipeline.samples["start"]
    print(f"stream: {args.hours} h of event time, {args.rate:,} interactions/min, {args.core:,} core accounts, "
          f"{args.new:,} new accounts/min (generated); {result.progress.windows:,} windows stored in "
          f"{time.perf_counter() - began:.0f} s")
    print(f"rss_start_mb={start:.0f} rss_end_mb={end:.0f} ratio={end / start:.2f}")


if __name__ == "__main__":
    main()
