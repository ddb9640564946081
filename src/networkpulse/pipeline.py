"""The embedded run mode: every stage in one process, in-memory hand-off, windows stored as they close.

events → venturi → (firehose pacing) → interning → engine → store. The store write path is batched: closed
windows are buffered and written in one transaction every ``flush_windows`` windows or ``flush_s`` seconds,
because replaying history closes hundreds of windows per second.

Every write also commits a checkpoint: the engine's open state, how far each source was consumed and the
cumulative counters. A run on a store that has one continues from it — after a crash (the same command again)
or with the next files of a stream (an hourly job) — and ends with exactly the windows of one undisturbed run.
The windows a run emits at its end, before the watermark passed them, are stored as *provisional*; the next run
replaces them from the checkpoint.

The analytics stage runs between the engine and the store, on each batch of windows just before it is written:
stable cluster ids, lineage, brokers and momentum (:mod:`networkpulse.analytics`). Its state rides in the same
checkpoint as the engine's (``analytics.*`` arrays), so a resumed run hands out the very same ids; the provisional
tail is annotated from a copy of the state, which the next run discards with the windows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from networkpulse.analytics import AnalyticsConfig, AnalyticsState, annotate
from networkpulse.engine import Interner, Window, WindowEngine
from networkpulse.errors import PulseError, StoreError
from networkpulse.events import InputReport
from networkpulse.events.sources import STDIN
from networkpulse.firehose import Pacer, replay
from networkpulse.settings import Settings, describe_window
from networkpulse.store import Checkpoint, InputPosition, Store, open_store, redact_url
from networkpulse.store.base import PERSIST_WRITER
from networkpulse.venturi import FilterStats, read_interactions
from networkpulse.venturi.parallel import Job, ParallelReader
from networkpulse.venturi.types import InteractionBatch


@dataclass(slots=True)
class Progress:
    """A snapshot for progress displays, updated after every batch (this run's figures)."""

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
    resumed: bool = False  # this run continued from a checkpoint
    skipped_sources: int = 0  # sources this store had consumed already, not read again

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class Late:
    """Events this run dropped because their window had closed: how many and where the first one was."""

    count: int = 0
    first: str | None = None


@dataclass(slots=True)
class RunResult:
    progress: Progress
    report: InputReport
    filters: FilterStats
    late: Late = dataclasses.field(default_factory=Late)
    interrupted: bool = False


class Pipeline:
    """Runs :class:`Settings` end to end. ``run`` blocks; ``stop`` (from another thread or a signal handler)
    ends it cleanly: what was read is committed with a checkpoint, and the same command continues it."""

    def __init__(
        self,
        settings: Settings,
        *,
        flush_windows: int = 2000,
        flush_s: float = 0.5,
        on_progress: Callable[[Progress], None] | None = None,
        on_write: Callable[[int, int, float], None] | None = None,
        analytics: bool = True,
    ) -> None:
        self.settings = settings
        # Analytics off (the benchmarks' baseline) stores windows without annotations and carries the stored
        # analytics state through the checkpoint untouched, so a later run with analytics on sees the gap.
        self.analytics = analytics
        w = settings.window
        self._analytics_config = AnalyticsConfig(step_ms=w.size_ms if w.rolling else w.slide_ms)
        self._analytics_state = AnalyticsState()
        # A live pace writes each closed window at once and paces small batches (a batch is the pacing step:
        # 64 events are seconds of event time, well under a slide); unpaced replay batches reads and writes.
        paced = not settings.pace.unpaced
        self.flush_windows = 1 if paced else flush_windows
        self.flush_s = flush_s
        self._batch_lines = 64 if paced else 4096
        self.on_progress = on_progress
        # (windows handed to the store, windows it newly stored, seconds the write took): for metrics.
        self.on_write = on_write
        self.progress = Progress()
        self.report = InputReport()
        self.filters = FilterStats()
        self.late = Late()
        self._stop = threading.Event()
        self._interner = Interner()
        self._engine = WindowEngine(settings.window, cluster_pairs=analytics)
        self._base: dict[str, Any] = {}  # cumulative counters of the runs before this one on the store
        self._inputs: dict[str, InputPosition] = {}  # how far each source was consumed, as in the store
        self._changed: dict[str, InputPosition] = {}  # positions advanced since the last write
        self._span_ms: int | None = None  # the time shift between replay loops, once known
        self._loop = 0  # the replay loop being read

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ reading

    def _batches(self, quarantine: IO[str] | None) -> Iterator[InteractionBatch]:
        """The batches in stream order, skipping what the store has consumed already; marks each source read to
        its end once its last batch was applied (when the next one is asked for).

        With ``workers > 1`` (unpaced, no stdin, no quarantine) sources are parsed in worker processes
        (:class:`~networkpulse.venturi.parallel.ParallelReader`) while this process applies the batches, also for
        one file; the next replay loop's sources are submitted as soon as a loop starts, so a worker parses loop
        k + 1 while this process applies loop k. A loop's sources are the same whenever they are listed (positions
        of loop k + 1 change only while it is applied), so submitting early changes nothing that is read."""
        s = self.settings
        self.report.quarantine = quarantine
        parallel = s.workers > 1 and s.pace.unpaced and not s.quarantine and STDIN not in s.sources
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(
                ParallelReader(s.workers, max_line_bytes=s.max_line_bytes, batch_lines=self._batch_lines)
            ) if parallel else None
            yield from self._replayed(pool)

    def _todo(self, loop: int) -> list[tuple[str, int]]:
        """(source, lines applied already) of the sources loop ``loop`` still has to read."""
        todo = [(src, self._resume_line(src, loop)) for src in self.settings.sources]
        return [(src, line) for src, line in todo if line is not None]

    def _replayed(self, pool: ParallelReader | None) -> Iterator[InteractionBatch]:
        s = self.settings
        submitted: dict[int, list[tuple[str, int, Job]]] = {}

        def submit(loop: int) -> None:
            if pool is not None and loop not in submitted and (not s.loops or loop < s.loops):
                submitted[loop] = [(src, line, pool.submit(src, line)) for src, line in self._todo(loop)]

        def read(loop: int) -> Iterator[InteractionBatch]:
            self._loop = loop
            submit(loop)
            jobs = submitted.pop(loop, None)
            todo = [(src, line) for src, line, _ in jobs] if jobs is not None else self._todo(loop)
            self.progress.skipped_sources += len(s.sources) - len(todo)
            submit(loop + 1)
            batches = self._read(todo) if pool is None or jobs is None else self._read_jobs(pool, jobs)
            previous = None
            for batch in batches:
                if previous is not None and batch.source != previous:  # sources are read one after the other
                    self._finish(previous)
                previous = batch.source
                yield batch
            for source, _ in todo:  # also those that gave no event at all
                self._finish(source)

        pacer = Pacer(s.pace)
        for batch in replay(read, s.loops, s.window.size_ms, first_loop=self._loop, span_ms=self._span_ms,
                            on_span=self._set_span):
            pacer.wait(batch)
            yield batch
            if self._stop.is_set():
                return

    def _set_span(self, span_ms: int) -> None:
        self._span_ms = span_ms

    def _resume_line(self, source: str, loop: int) -> int | None:
        """Lines of ``source`` already applied (0: read it all), or None when it was consumed to its end."""
        if source == STDIN:
            return 0  # a pipe cannot be re-read; its input is applied as it comes
        seen = self._inputs.get(_key(source, loop))
        if seen is None:
            return 0
        size, mtime_ns = _identity(source)
        if seen.done and (seen.size, seen.mtime_ns) == (size, mtime_ns):
            return None
        return seen.line  # an append-only file that grew goes on where it stopped

    def _read(self, todo: list[tuple[str, int]]) -> Iterator[InteractionBatch]:
        s = self.settings
        return read_interactions(
            [src for src, _ in todo], self.report, self.filters, max_line_bytes=s.max_line_bytes,
            batch_lines=self._batch_lines, skip_lines={src: line for src, line in todo if line},
        )

    def _read_jobs(self, pool: ParallelReader, jobs: list[tuple[str, int, Job]]) -> Iterator[InteractionBatch]:
        """The batches of parsed ``jobs`` in order, each batch's counts and skipped lines merged before it is
        yielded (as reading in this process adds them)."""
        for *_, job in jobs:
            for batch, filters, report in pool.results(job):
                self.report.merge(report)
                self.filters.merge(filters)
                if batch is not None:
                    yield batch

    # ------------------------------------------------------------------ running

    def run(self) -> RunResult:
        s = self.settings
        store = open_store(s.store_url, retention=s.retention)
        result = RunResult(self.progress, self.report, self.filters, self.late)
        pending: list[Window] = []
        started = last_flush = time.perf_counter()
        try:
            with contextlib.ExitStack() as stack:
                quarantine = _open_quarantine(stack, s.quarantine)
                if s.start_over:
                    store.start_over()
                self._resume(store)
                for batch in self._batches(quarantine):
                    late = self._engine.late_mask(batch.event_times_ms)
                    if late.any():
                        self._report_late(batch, late)
                    src = self._interner.ids(batch.src)
                    dst = self._interner.ids(batch.dst)
                    closed = self._engine.add(src, dst, batch.created_at_ms, batch.event_times_ms)
                    self._advance(batch)
                    pending += closed
                    now = time.perf_counter()
                    self._update(closed, now - started)
                    if pending and (len(pending) >= self.flush_windows or now - last_flush >= self.flush_s):
                        self._write(store, pending, now - started)
                        pending = []
                        last_flush = now
                result.interrupted = self._stop.is_set()
                # The checkpoint is the state *before* the end-of-input flush: the next run continues from it
                # and replaces the windows the flush emits, which later events may still change.
                state = self._engine.snapshot()
                tail = self._engine.flush()
                now = time.perf_counter()
                self._update(tail, now - started)
                self._write(store, pending, now - started, provisional=tail, engine_state=state)
                self.progress.done = True
                if self.on_progress:
                    self.on_progress(self.progress)
        finally:
            store.close()
        return result

    def _resume(self, store: Store) -> None:
        """Continue the store's stream: its interned accounts, engine state, input positions and counters."""
        s = self.settings
        self._interner = Interner()
        self._interner.ids(store.logins())  # ids in account order: the interner of the run that wrote it
        checkpoint = store.checkpoint()
        if checkpoint is None:
            if store.max_window_id() is not None:
                raise StoreError(
                    f"{redact_url(s.store_url)}: holds windows but no checkpoint to continue from (written by an older "
                    "networkpulse); pass --start-over to replace its windows, or use another --store"
                )
            return
        if checkpoint.state.get("writer") == PERSIST_WRITER:
            raise StoreError(
                f"{redact_url(s.store_url)}: written by `pulse persist` (the Kafka pipeline), with no engine state "
                "for `pulse run` to continue; run into another --store, or pass --start-over to replace its windows"
            )
        config = _config(s)
        if checkpoint.config != config:
            raise StoreError(
                f"{redact_url(s.store_url)}: written with {describe_window(checkpoint.config)}, but this run asks for "
                f"{describe_window(config)}; run with the store's settings to continue it, pass --start-over to "
                "delete its windows and begin again, or use another --store"
            )
        self._engine = WindowEngine.restore(s.window, checkpoint.engine, len(self._interner),
                                            cluster_pairs=self.analytics)
        self._analytics_state = AnalyticsState.from_arrays(checkpoint.engine) or AnalyticsState()
        self._base = checkpoint.state.get("totals", {})
        if not checkpoint.state.get("complete", False):  # a run that was cut short goes on in its replay loop
            self._loop = checkpoint.state.get("loop", 0)
            self._span_ms = checkpoint.state.get("span_ms")
        self._inputs = store.inputs()
        self.progress.resumed = True

    def _advance(self, batch: InteractionBatch) -> None:
        """Record that the events of ``batch`` are applied: its source's position moves to its last line."""
        if batch.source == STDIN or not len(batch.event_lines):
            return
        self._position(batch.source, int(batch.event_lines[-1]), done=False)

    def _finish(self, source: str) -> None:
        """Record that ``source`` was read to its end (in the current replay loop)."""
        if source == STDIN:
            return
        seen = self._inputs.get(_key(source, self._loop))
        self._position(source, seen.line if seen else 0, done=True)

    def _position(self, source: str, line: int, *, done: bool) -> None:
        key = _key(source, self._loop)
        self._changed[key] = self._inputs[key] = InputPosition(line, done, *_identity(source))

    def _report_late(self, batch: InteractionBatch, late: np.ndarray) -> None:
        """Record the events the engine is about to drop as late: counted, reported with file:line, sent to the
        quarantine with reason ``late`` (the line itself is still in its file)."""
        watermark = self._engine.watermark_ms
        for line, ms in zip(batch.event_lines[late].tolist(), batch.event_times_ms[late].tolist(), strict=True):
            self.report.add(
                "late", batch.source, line,
                f"event time {_iso(ms)} is behind the watermark {_iso(watermark)}: its window was closed",
                always_quarantine=True,
            )
        n = int(late.sum())
        if self.late.first is None:
            self.late.first = f"{batch.source}:{int(batch.event_lines[late][0])}"
        self.late.count += n

    def _update(self, closed: list[Window], elapsed: float) -> None:
        p = self.progress
        p.events = self.filters.events
        p.interactions = self.filters.interactions
        p.filtered_share = self.filters.filtered_share
        p.late_events = self.late.count
        p.skipped_lines = self.report.skipped
        p.elapsed_s = elapsed
        if closed:
            p.largest = closed[-1].largest
            p.last_window_end_ms = closed[-1].end_ms
        if self.on_progress:
            self.on_progress(p)

    def _totals(self) -> dict[str, Any]:
        """Cumulative counters over every run on this store: the ones before this run plus this run's."""
        base, f = self._base, self.filters
        counters = ("events", "kept_events", "interactions", "actor_is_owner")
        totals: dict[str, Any] = {name: base.get(name, 0) + getattr(f, name) for name in counters}
        for name, mine in (("dropped", f.dropped), ("dropped_pairs", f.dropped_pairs), ("kinds", f.kinds),
                           ("skipped_by_reason", self.report.by_reason)):
            totals[name] = dict(Counter(base.get(name, {})) + Counter(mine))
        totals["skipped_lines"] = base.get("skipped_lines", 0) + self.report.skipped
        totals["late_events"] = self._engine.late_events
        return totals

    def _write(
        self,
        store: Store,
        windows: list[Window],
        elapsed: float,
        *,
        provisional: list[Window] | None = None,
        engine_state: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        totals = self._totals()
        events = totals["events"]
        stats = {
            "events": events,
            "interactions": totals["interactions"],
            "kept_events": totals["kept_events"],
            "filtered_events": events - totals["kept_events"],
            "filtered_share": round(1 - totals["kept_events"] / events, 4) if events else 0.0,
            "dropped": totals["dropped"],
            "late_events": totals["late_events"],
            "skipped_lines": totals["skipped_lines"],
            "events_per_s": round(self.filters.events / elapsed, 1) if elapsed > 0 else 0.0,
        }
        complete = provisional is not None and not self._stop.is_set()
        state = {"totals": totals, "span_ms": self._span_ms, "loop": self._loop, "complete": complete}
        tail = provisional or ()
        notes = None
        if self.analytics:
            self._analytics_state, notes = annotate(self._analytics_state, windows, self._analytics_config)
            if tail:  # annotated from a copy of the state: the next run replaces these windows
                notes += annotate(self._analytics_state, tail, self._analytics_config)[1]
        engine = engine_state if engine_state is not None else self._engine.snapshot()
        checkpoint = Checkpoint(
            _config(self.settings), state, {**engine, **self._analytics_state.to_arrays()}, dict(self._changed),
        )
        began = time.perf_counter()
        stored = store.write(windows, self._interner.logins, stats, checkpoint=checkpoint, provisional=tail,
                             analytics=notes)
        if self.on_write:
            self.on_write(len(windows) + len(tail), len(stored), time.perf_counter() - began)
        self._changed.clear()
        self.progress.windows += len(windows) + len(provisional or ())


def _config(settings: Settings) -> dict[str, Any]:
    return dataclasses.asdict(settings.window)


def _key(source: str, loop: int) -> str:
    """The input position key of ``source`` in replay loop ``loop`` (a time-shifted loop is another input)."""
    path = source if source == STDIN else os.path.realpath(source)
    return path if loop == 0 else f"{path}#{loop}"


def _identity(source: str) -> tuple[int, int]:
    try:
        st = os.stat(source)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _open_quarantine(stack: contextlib.ExitStack, path: str | None) -> IO[str] | None:
    if not path:
        return None
    try:
        return stack.enter_context(open(path, "a", encoding="utf-8"))
    except OSError as exc:
        raise PulseError(
            f"--quarantine {path}: cannot write there ({exc.strerror}); give a writable file path"
        ) from None


__all__ = ["Late", "Pipeline", "Progress", "RunResult"]
