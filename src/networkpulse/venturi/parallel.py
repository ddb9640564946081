"""Venturi in worker processes: :func:`~networkpulse.venturi.read_interactions` of whole sources (files) run in
forked workers and stream their batches back to the caller in submission order.

Why: parsing (gunzip, typed decode, the rules loop) is ~40 % of the embedded run's CPU and the engine, analytics
and store the rest, all in one process. With a worker parsing while the main process applies, a run over *one*
file, or ``--loops`` replays of one file, uses two cores; before, workers split the work by file only and a single
file was parsed in the main process. Each job is one source parsed from its first unapplied line by the very
code of the in-process path, with the same ``batch_lines``, so the batches (and every window made of them), the
``file:line`` of every skipped line and the input positions a checkpoint records are those of one process.

Jobs go to the workers round-robin and each worker runs its jobs in order, so job ``j``'s batches come from worker
``j mod W`` after those of its earlier jobs: reading jobs in submission order reads each worker's queue in order.
Each worker's result queue holds at most :data:`AHEAD` batches, so a worker runs at most that far ahead of the
consumer and memory stays bounded by ``W × AHEAD`` batches whatever the input size. A batch travels pickled
(~0.4 interactions per event: a few hundred KB per 4,096 events), with the filter counts and the input report of
the lines it covers, which the caller merges before applying the batch, so counts and reports build up as in one
process.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue, SimpleQueue
from typing import Any

from networkpulse.errors import PulseError
from networkpulse.events import InputReport
from networkpulse.venturi.extract import read_interactions
from networkpulse.venturi.stats import FilterStats
from networkpulse.venturi.types import InteractionBatch

#: Batches a worker may have parsed ahead of the consumer (per worker): enough to ride out a store flush.
AHEAD = 8
_BATCH, _END, _ERROR = 0, 1, 2
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Job:
    """A submitted source: read it with :meth:`ParallelReader.results`, in submission order."""

    number: int
    source: str
    skip_line: int


class ParallelReader:
    """``workers`` forked parsing processes; :meth:`submit` sources, read each job's :meth:`results` in the order
    submitted, :meth:`close` (or ``with``) at the end. Costs per batch: one pickle in the worker, one unpickle
    here (~2 % of parsing it)."""

    def __init__(self, workers: int, *, max_line_bytes: int, batch_lines: int) -> None:
        if workers < 1:
            raise ValueError(f"workers: expected >= 1, got {workers}")
        # fork: workers need nothing but the parser, and fork starts them without re-importing anything.
        ctx = multiprocessing.get_context("fork")
        self._jobs: list[SimpleQueue[tuple[str, int] | None]] = [ctx.SimpleQueue() for _ in range(workers)]
        self._out: list[Queue[bytes]] = [ctx.Queue(AHEAD) for _ in range(workers)]
        self._procs: list[BaseProcess] = [
            ctx.Process(target=_work, args=(jobs, out, max_line_bytes, batch_lines, os.getpid()), daemon=True)
            for jobs, out in zip(self._jobs, self._out, strict=True)
        ]
        for proc in self._procs:
            proc.start()
        self._submitted = 0
        self._next = 0  # the job whose results come next

    def submit(self, source: str, skip_line: int = 0) -> Job:
        """Queue ``source`` (its first ``skip_line`` lines were applied already). O(1)."""
        job = Job(self._submitted, source, skip_line)
        self._jobs[job.number % len(self._jobs)].put((source, skip_line))
        self._submitted += 1
        return job

    def results(self, job: Job) -> Iterator[tuple[InteractionBatch | None, FilterStats, InputReport]]:
        """``(batch, counts, report)`` for each batch of ``job``, then ``(None, counts, report)`` for what its source
        held after the last batch; ``counts`` and ``report`` cover only the lines since the previous item. Raises
        what the worker raised, or :class:`PulseError` if it died. Must be read fully, in submission order."""
        if job.number != self._next:
            raise RuntimeError(f"job {job.number} read out of order (expected job {self._next})")
        worker = job.number % len(self._out)
        while True:
            kind, batch, counts, report = self._get(worker)
            if kind == _ERROR:
                raise batch
            yield (batch if kind == _BATCH else None), counts, report
            if kind == _END:
                self._next += 1
                return

    def _get(self, worker: int) -> tuple[int, Any, FilterStats, InputReport]:
        out, proc = self._out[worker], self._procs[worker]
        while True:
            try:
                message: tuple[int, Any, FilterStats, InputReport] = pickle.loads(out.get(timeout=1.0))
                return message
            except queue.Empty:
                if not proc.is_alive():
                    raise PulseError(
                        f"a parsing worker died (exit code {proc.exitcode}); run again with --workers 1 to parse in "
                        "one process, or free memory"
                    ) from None

    def close(self) -> None:
        """Stop every worker (mid-job ones too) and release the queues. Idempotent."""
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join()
        for out in self._out:
            out.cancel_join_thread()
            out.close()
        self._procs = []

    def __enter__(self) -> ParallelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _work(jobs: SimpleQueue[tuple[str, int] | None], out: Queue[bytes], max_line_bytes: int, batch_lines: int,
          parent: int) -> None:
    """A worker's life: parse jobs until told to stop (None) or killed. Each message is pickled here and now,
    before the counts and report are reset for the next batch (a Queue would pickle later, in its feeder thread)."""
    _die_with_parent(parent)
    while (job := jobs.get()) is not None:
        source, skip_line = job
        report, counts = InputReport(), FilterStats()
        try:
            for batch in read_interactions([source], report, counts, max_line_bytes=max_line_bytes,
                                           batch_lines=batch_lines,
                                           skip_lines={source: skip_line} if skip_line else {}):
                out.put(pickle.dumps((_BATCH, batch, counts, report), pickle.HIGHEST_PROTOCOL))
                counts.__init__()  # type: ignore[misc]  # in place: the reading generator holds these objects
                report.__init__(report.max_messages)  # type: ignore[misc]
            out.put(pickle.dumps((_END, None, counts, report), pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # the consumer raises it; this worker has nothing left to do
            try:
                message = pickle.dumps((_ERROR, exc, counts, report), pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception that does not pickle still reaches the consumer, as text
                error = PulseError(f"{source}: parsing failed in a worker process: {exc!r}")
                message = pickle.dumps((_ERROR, error, counts, report), pickle.HIGHEST_PROTOCOL)
            out.put(message)
            return


def _die_with_parent(parent: int) -> None:
    """Workers get SIGKILL when the run dies, however it dies (Linux ``prctl``), and leave Ctrl-C and SIGTERM to
    the parent, which stops them in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


__all__ = ["AHEAD", "Job", "ParallelReader"]
