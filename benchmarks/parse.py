"""Benchmark: gunzip + typed partial decode + venturi (events/s/core), against stdlib gzip + json.loads.

Run: .venv/bin/python benchmarks/parse.py [file.json.gz] [--runs N]
Prints the median of N runs for ours and for the baseline (the obvious stdlib reading with the same
counterpart rules, measured in the same process), their ratio, and peak RSS. One thread: the per-core figure.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from networkpulse.events import InputReport
from networkpulse.venturi import FilterStats, read_interactions

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/gharchive/2015-01-01-12.json.gz"


def ours(path: str) -> tuple[int, int]:
    report, stats = InputReport(), FilterStats()
    n = sum(len(b) for b in read_interactions([path], report, stats))
    return stats.events, n


def baseline(path: str) -> tuple[int, int]:
    """stdlib gzip + json.loads + the repo-owner/payload rules in plain Python."""
    events = kept = 0
    with gzip.open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        e = json.loads(line)
        events += 1
        actor = e.get("actor")
        actor = actor.get("login") if isinstance(actor, dict) else actor
        if not actor:
            continue
        repo = e.get("repo")
        owner = repo["name"].partition("/")[0] if repo else (e.get("repository") or {}).get("owner")
        p = e.get("payload") or {}
        issue = p.get("issue", {})
        other = (p.get("pull_request") or issue or {}) if isinstance(issue, dict) else {}
        other = (other.get("user") or {}).get("login") if isinstance(other, dict) else None
        seen = {actor.lower()}
        for who in (other, owner):
            if who and who.lower() not in seen:
                seen.add(who.lower())
                kept += 1
    return events, kept


def rates(fn: Callable[[str], tuple[int, int]], path: str, runs: int) -> tuple[float, float, int, int]:
    """Median and best events/s over ``runs`` runs (best: the figure without the shared machine's noise)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        events, inter = fn(path)
        times.append(time.perf_counter() - t0)
    return events / statistics.median(times), events / min(times), events, inter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rate, best, events, inter = rates(ours, args.path, args.runs)
    base, base_best, _, _ = rates(baseline, args.path, max(3, args.runs // 2))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {args.path} ({events} events, {inter} interactions)")
    print(f"networkpulse gunzip+decode+venturi: {rate:,.0f} events/s median of {args.runs}, {best:,.0f} best")
    print(f"baseline gzip+json.loads+rules:     {base:,.0f} events/s median, {base_best:,.0f} best")
    print(f"ratio: {rate / base:.1f}x   peak RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
