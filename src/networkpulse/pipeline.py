"""The embedded run mode: every stage in one process, in-memory hand-off, windows stored as they close.

events → venturi → (firehose pacing) → interning → engine → store. The store write path is batched: closed
windows are buffered and written in one transaction every ``flush_windows`` windows or ``flush_s`` seconds,
because replaying history closes hundreds of windows per second.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from networkpulse.engine import Interner, Window, WindowEngine
from networkpulse.events import InputReport
from networkpulse.firehose import Pacer, replay
from networkpulse.settings import Settings
from networkpulse.store import open_store
from networkpulse.venturi import FilterStats, read_interactions
from networkpulse.venturi.types import InteractionBatch


@dataclass(slots=True)
class Progress:
    """A snapshot for progress displays, updated after every batch."""

    events: int = 0
    interactions: int = 0
    windows: int = 0
    filtered_share: float = 0.0
    late_events: int = 0
    skipped_lines: int = 0
    largest: int = 0
    last_window_end_ms: int | None = None
    elapsed_s: float = 0.0
    done: bool = False

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class RunResult:
    progress: Progress
    report: InputReport
    filters: FilterStats


class Pipeline:
    """Runs :class:`Settings` end to end. ``run`` blocks; ``stop`` (from another thread) ends it cleanly."""

    def __init__(
        self,
        settings: Settings,
        *,
        flush_windows: int = 2000,
        flush_s: float = 0.5,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.settings = settings
        # A live pace writes each closed window at once and paces small batches (a batch is the pacing step:
        # 64 events are seconds of event time, well under a slide); unpaced replay batches reads and writes.
        paced = not settings.pace.unpaced
        self.flush_windows = 1 if paced else flush_windows
        self.flush_s = flush_s
        self._batch_lines = 64 if paced else 4096
        self.on_progress = on_progress
        self.progress = Progress()
        self.report = InputReport()
        self.filters = FilterStats()
        self._stop = threading.Event()
        self._interner = Interner()
        self._engine = WindowEngine(settings.window)

    def stop(self) -> None:
        self._stop.set()

    def _batches(self, quarantine: Any) -> Iterator[InteractionBatch]:
        s = self.settings
        batch_lines = self._batch_lines
        self.report.quarantine = quarantine

        parallel = s.workers > 1 and len(s.sources) > 1 and s.pace.unpaced and not s.quarantine and "-" not in s.sources

        def read() -> Iterator[InteractionBatch]:
            if parallel:
                return self._read_parallel(batch_lines)
            return read_interactions(
                s.sources, self.report, self.filters, max_line_bytes=s.max_line_bytes, batch_lines=batch_lines
            )

        pacer = Pacer(s.pace)
        for batch in replay(read, s.loops, s.window.size_ms):
            pacer.wait(batch)
            yield batch
            if self._stop.is_set():
                return

    def _read_parallel(self, batch_lines: int) -> Iterator[InteractionBatch]:
        """Parse files in ``workers`` processes (gunzip + decode + venturi are the CPU-heavy part), yielding
        each file's batches in source order. At most ``workers + 1`` files are in flight, so memory stays
        bounded by a few files' interactions; reports and filter counts are merged as files arrive."""
        s = self.settings
        jobs = ((source, s.max_line_bytes, batch_lines) for source in s.sources)
        # fork: workers need nothing but the parser, and fork starts them without re-importing anything.
        with ProcessPoolExecutor(s.workers, mp_context=multiprocessing.get_context("fork")) as pool:
            inflight: deque[Future[tuple[list[InteractionBatch], InputReport, FilterStats]]] = deque()
            for job in itertools.islice(jobs, s.workers + 1):
                inflight.append(pool.submit(_parse_file, *job))
            while inflight:
                batches, report, filters = inflight.popleft().result()
                for job in itertools.islice(jobs, 1):
                    inflight.append(pool.submit(_parse_file, *job))
                self.report.merge(report)
                self.filters.merge(filters)
                yield from batches
                if self._stop.is_set():
                    for future in inflight:
                        future.cancel()
                    return

    def run(self) -> RunResult:
        s = self.settings
        store = open_store(s.store_url, retention=s.retention)
        result = RunResult(self.progress, self.report, self.filters)
        pending: list[Window] = []
        started = last_flush = time.perf_counter()
        try:
            with contextlib.ExitStack() as stack:
                quarantine = stack.enter_context(open(s.quarantine, "a", encoding="utf-8")) if s.quarantine else None
                for batch in self._batches(quarantine):
                    src = self._interner.ids(batch.src)
                    dst = self._interner.ids(batch.dst)
                    closed = self._engine.add(src, dst, batch.created_at_ms, batch.event_times_ms)
                    pending += closed
                    now = time.perf_counter()
                    self._update(closed, now - started)
                    if pending and (len(pending) >= self.flush_windows or now - last_flush >= self.flush_s):
                        self._write(store, pending, now - started)
                        pending = []
                        last_flush = now
                closed = self._engine.flush()
                pending += closed
                now = time.perf_counter()
                self._update(closed, now - started)
                self._write(store, pending, now - started)
                self.progress.done = True
                if self.on_progress:
                    self.on_progress(self.progress)
        finally:
            store.close()
        return result

    def _update(self, closed: list[Window], elapsed: float) -> None:
        p = self.progress
        p.events = self.filters.events
        p.interactions = self.filters.interactions
        p.filtered_share = self.filters.filtered_share
        p.late_events = self._engine.late_events
        p.skipped_lines = self.report.skipped
        p.elapsed_s = elapsed
        if closed:
            p.largest = closed[-1].largest
            p.last_window_end_ms = closed[-1].end_ms
        if self.on_progress:
            self.on_progress(p)

    def _write(self, store: Any, windows: list[Window], elapsed: float) -> None:
        self.progress.windows += len(windows)
        stats = {
            "events": self.filters.events,
            "interactions": self.filters.interactions,
            "kept_events": self.filters.kept_events,
            "filtered_events": self.filters.events - self.filters.kept_events,
            "filtered_share": round(self.filters.filtered_share, 4),
            "dropped": dict(self.filters.dropped),
            "late_events": self._engine.late_events,
            "skipped_lines": self.report.skipped,
            "windows": self.progress.windows,
            "events_per_s": round(self.filters.events / elapsed, 1) if elapsed > 0 else 0.0,
        }
        store.write(windows, self._interner.logins, stats)


def _parse_file(
    source: str, max_line_bytes: int, batch_lines: int
) -> tuple[list[InteractionBatch], InputReport, FilterStats]:
    """One file's interactions, report and filter counts (runs in a worker process)."""
    report, filters = InputReport(), FilterStats()
    batches = list(read_interactions([source], report, filters, max_line_bytes=max_line_bytes, batch_lines=batch_lines))
    return batches, report, filters
